/* vesc-rescue: entry point. Everything but argument dispatch lives in cli.c. */
#include "cli.h"

int main(int argc, char **argv)
{
	return cli_main(argc, argv);
}
