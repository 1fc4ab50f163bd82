# bash completion for vesc-rescue; installed by `make install` as
# $(PREFIX)/share/bash-completion/completions/vesc-rescue
_vesc_rescue()
{
	local cur prev words cword
	_init_completion || return

	local commands="probe survey backup recover erase write verify restore images"
	local global="--port --uart --baud --timeout --probe --sim --json --log --no-color --yes --help --version --udev-rules"
	local recover="--bootloader --firmware --images --hw --keep-config --restore-config --backup --dry-run --allow-unprotect --force"

	case $prev in
	--port|--uart)
		COMPREPLY=($(compgen -f -- "$cur"))
		[[ -z $cur ]] && COMPREPLY+=($(compgen -G '/dev/tty[AU]*'))
		return ;;
	--log|--bootloader|--firmware|--backup)
		_filedir
		return ;;
	--images)
		_filedir -d
		return ;;
	--baud)
		COMPREPLY=($(compgen -W "auto 9600 19200 38400 57600 115200 230400 460800 921600" -- "$cur"))
		return ;;
	--sim)
		COMPREPLY=($(compgen -W "list healthy old-fw no-bootloader corrupt-app blank swd-lockout no-nrst rdp1 wrp unpowered miswired probe-dfu probe-busy probe-access uart-wrong-baud usb-noise" -- "$cur"))
		return ;;
	--at)
		COMPREPLY=($(compgen -W "0x08000000 0x080E0000" -- "$cur"))
		return ;;
	--timeout|--probe|--hw|--sectors)
		return ;;
	esac

	local cmd="" w
	for w in "${words[@]:1:cword-1}"; do
		case " $commands " in *" $w "*) cmd=$w; break ;; esac
	done

	if [[ $cur == -* ]]; then
		case $cmd in
		recover) COMPREPLY=($(compgen -W "$global $recover" -- "$cur")) ;;
		erase) COMPREPLY=($(compgen -W "$global --mass --sectors" -- "$cur")) ;;
		write) COMPREPLY=($(compgen -W "$global --at --force" -- "$cur")) ;;
		verify) COMPREPLY=($(compgen -W "$global --at" -- "$cur")) ;;
		restore) COMPREPLY=($(compgen -W "$global --sectors" -- "$cur")) ;;
		images) COMPREPLY=($(compgen -W "--hw --json" -- "$cur")) ;;
		*) COMPREPLY=($(compgen -W "$global" -- "$cur")) ;;
		esac
		return
	fi
	case $cmd in
	"") COMPREPLY=($(compgen -W "$commands" -- "$cur")) ;;
	images) _filedir -d ;;
	backup|write|verify|restore) _filedir ;;
	esac
}
complete -F _vesc_rescue vesc-rescue
