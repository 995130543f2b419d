/* main.c — terraform-provider-sparkflow: a Terraform plugin, started by
 * Terraform (run directly, it explains that and exits). */
#include "resources/resources.h"

int main(int argc, char **argv)
{
    return sf_provider_serve(&sf_provider_sparkflow, argc, argv);
}
