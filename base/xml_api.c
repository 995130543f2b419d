/* xml_api.c — load libxml2.so.2 once and initialise its parser (see
 * xml_api.h).
 *
 * The table and the load error are written once, under pthread_once, and
 * only read after that: process-wide, like libxml2's own global state. */
#include "base/xml_api.h"

#include <pthread.h>
#include <stdio.h>

#include "base/dlib.h"

typedef struct loaded {
    sf_xml_api api;
    void (*init_parser)(void);
    /* xmlFree is a variable holding the deallocator (free() unless an
     * application changed it with xmlMemSetup), not a function. */
    xmlFreeFunc *free_var;
    int ok;
    char why[512];
} loaded;

static loaded xml_lib;
static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void call_xml_free(void *mem)
{
    (*xml_lib.free_var)(mem);
}

static void load(void)
{
    loaded *l = &xml_lib;
    const sf_dlib_sym syms[] = {
        {"xmlInitParser", (void **)&l->init_parser},
        {"xmlReadMemory", (void **)&l->api.read_memory},
        {"xmlDocGetRootElement", (void **)&l->api.doc_get_root_element},
        {"xmlNodeGetContent", (void **)&l->api.node_get_content},
        {"xmlFreeDoc", (void **)&l->api.free_doc},
        {"xmlFree", (void **)&l->free_var},
    };
    char err[256];
    if (sf_dlib_load(SF_XML_SONAME, syms, sizeof syms / sizeof *syms, err, sizeof err) != 0) {
        snprintf(l->why, sizeof l->why,
                 "cannot load libxml2 (%s), which reading AWS's XML answers needs: install libxml2 "
                 "(Debian/Ubuntu/Fedora/RHEL: libxml2)",
                 err);
        return;
    }
    l->init_parser(); /* before threads parse; libxml2 makes it idempotent */
    l->api.free_mem = call_xml_free;
    l->ok = 1;
}

const sf_xml_api *sf_xml_api_get(const char **why)
{
    pthread_once(&xml_once, load);
    if (xml_lib.ok) return &xml_lib.api;
    if (why) *why = xml_lib.why;
    return NULL;
}
