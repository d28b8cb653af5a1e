#include "cli.h"
int cmd_domains(struct cli *cli, int argc, char **argv)
{
    (void)cli, (void)argc, (void)argv;
    return EXIT_USAGE;
}
