#include "hooks.h"

#include <stdarg.h>
#include <stdio.h>

void hooks_log(const struct run_hooks *h, const char *fmt, ...)
{
	if (!h || !h->log)
		return;
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	h->log(h->ctx, line);
}

void hooks_progress(const struct run_hooks *h, const struct engine_progress *p)
{
	if (h && h->progress)
		h->progress(h->ctx, p);
}

bool hooks_ask_person(const struct run_hooks *h, const char *instruction, unsigned timeout_ms)
{
	return h && h->ask_person && h->ask_person(h->ctx, instruction, timeout_ms);
}

bool hooks_confirm(const struct run_hooks *h, const struct engine_confirm *question)
{
	return h && h->confirm && h->confirm(h->ctx, question);
}

bool hooks_cancelled(const struct run_hooks *h)
{
	return h && h->cancel && *h->cancel;
}

enum hook_answer hooks_ask(const struct run_hooks *h, const struct engine_confirm *question)
{
	return h && h->ask ? h->ask(h->ctx, question) : HOOK_UNKNOWN;
}
