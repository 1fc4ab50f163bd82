/* The bootloader over USB, while the firmware runs (no soldering). */
#include "executor.h"

vr_err executor_usb_step(struct executor *x, const struct plan_step *step, struct observations *obs,
			 const struct run_hooks *hooks, struct vr_error *err)
{
	(void)x;
	(void)obs;
	(void)hooks;
	return vr_fail(err, VR_ERR_UNSUPPORTED, "%s over USB is not available in this build",
		       plan_step_kind_name(step->kind));
}
