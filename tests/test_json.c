#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "json.h"

static char *render(void (*build)(struct json_writer *))
{
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	struct json_writer w;
	json_init(&w, mem, false);
	build(&w);
	fclose(mem);
	return text;
}

static void build_nested(struct json_writer *w)
{
	json_object_begin(w, NULL);
	json_int(w, "schema", 1);
	json_array_begin(w, "usb");
	json_object_begin(w, NULL);
	json_hex16(w, "vid", 0x0483);
	json_hex16(w, "pid", 0x5740);
	json_object_end(w);
	json_object_begin(w, NULL);
	json_object_end(w);
	json_array_end(w);
	json_array_begin(w, "empty");
	json_array_end(w);
	json_hex32(w, "addr", 0x080E0000);
	json_double(w, "voltage", NAN, 2);
	json_double(w, "v2", 3.25, 2);
	json_bool(w, "ok", true);
	json_string(w, "s", NULL);
	json_object_end(w);
}

static void nested_structure_and_forms(void **state)
{
	(void)state;
	char *text = render(build_nested);
	assert_string_equal(text, "{\"schema\":1,\"usb\":[{\"vid\":\"0483\",\"pid\":\"5740\"},{}],"
			    "\"empty\":[],\"addr\":\"0x080E0000\",\"voltage\":null,\"v2\":3.25,"
			    "\"ok\":true,\"s\":null}");
	free(text);
}

static void build_escapes(struct json_writer *w)
{
	json_object_begin(w, NULL);
	json_string(w, "k\"ey", "a\"b\\c\n\x01\x7f");
	json_object_end(w);
}

static void strings_are_escaped(void **state)
{
	(void)state;
	char *text = render(build_escapes);
	assert_string_equal(text, "{\"k\\\"ey\":\"a\\\"b\\\\c\\n\\u0001\\u007f\"}");
	free(text);
}

static void escape_into_small_buffer_never_splits(void **state)
{
	(void)state;
	char out[6];
	size_t need = json_escape("ab\"cd", out, sizeof out);
	assert_int_equal(need, 6);
	/* "ab\"" needs 4 bytes + "c" = 5 chars, fits 5 + NUL */
	assert_string_equal(out, "ab\\\"c");
	char tiny[3];
	json_escape("a\"", tiny, sizeof tiny);
	assert_string_equal(tiny, "a");  /* the escape would not fit whole */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(nested_structure_and_forms),
		cmocka_unit_test(strings_are_escaped),
		cmocka_unit_test(escape_into_small_buffer_never_splits),
	};
	return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
