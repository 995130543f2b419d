/* main.c — terraform-provider-sparkflow: a Terraform plugin, started by
 * Terraform (run directly, it explains that and exits). */
#include <curl/curl.h>

#include "resources/resources.h"

int main(int argc, char **argv)
{
    /* libcurl's global state must exist before any thread uses it. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return 1;
    int rc = sf_provider_serve(&sf_provider_sparkflow, argc, argv);
    curl_global_cleanup();
    return rc;
}
