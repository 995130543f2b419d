/* main.c — terraform-provider-sparkflow: a Terraform plugin, started by
 * Terraform (run directly, it explains that and exits).
 *
 * libcurl and libxml2 are not linked: they are loaded on first use
 * (base/curl_api.h, base/xml_api.h), so the handshake maps none of their
 * dependencies.  `--libraries` loads them now and prints each soname and
 * the file it came from, or fails saying which one is missing: how a
 * release check, or a user, sees the libraries the binary will load later.
 */
#include <stdio.h>
#include <string.h>

#include "base/curl_api.h"
#include "base/dlib.h"
#include "base/xml_api.h"
#include "resources/resources.h"

static int print_library(const char *soname, const void *api, const char *why)
{
    char path[4096];
    if (!api) {
        fprintf(stderr, "%s\n", why);
        return 1;
    }
    printf("%s\t%s\n", soname, sf_dlib_path(soname, path, sizeof path) == 0 ? path : "?");
    return 0;
}

static int print_libraries(void)
{
    const char *why = NULL;
    const sf_curl_api *curl = sf_curl_api_get(&why);
    int rc = print_library(SF_CURL_SONAME, curl, why);
    const sf_xml_api *xml = sf_xml_api_get(&why);
    rc |= print_library(SF_XML_SONAME, xml, why);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--libraries") == 0) return print_libraries();
    return sf_provider_serve(&sf_provider_sparkflow, argc, argv);
}
