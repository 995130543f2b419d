/* xml_api.h — libxml2, loaded on first use (base/dlib.h says why).
 *
 * The few parser functions SparkFlow calls (AWS's XML answers), as a table:
 * `api->read_memory(...)` for `xmlReadMemory(...)`.  Types (xmlDoc,
 * xmlNode) and constants come from the libxml2 headers as usual: walking a
 * tree reads struct fields and needs no call.  The first call to
 * sf_xml_api_get() loads libxml2.so.2 and runs xmlInitParser() once for the
 * process (pthread_once: any thread may be first).
 */
#ifndef SF_BASE_XML_API_H
#define SF_BASE_XML_API_H

#include <libxml/parser.h>
#include <libxml/tree.h>

/* The soname loaded: libxml2 2.x (2.6 and later give every function here). */
#define SF_XML_SONAME "libxml2.so.2"

typedef struct sf_xml_api {
    xmlDoc *(*read_memory)(const char *buffer, int size, const char *url, const char *encoding, int options);
    xmlNode *(*doc_get_root_element)(const xmlDoc *doc);
    xmlChar *(*node_get_content)(const xmlNode *node);
    void (*free_doc)(xmlDoc *doc);
    /* Releases what node_get_content returned (libxml2's xmlFree). */
    void (*free_mem)(void *mem);
} sf_xml_api;

/* The loaded libxml2, initialised.  NULL when it cannot be loaded, with
 * *why (static, never freed) saying so and how to fix it (install libxml2);
 * the same answer for the life of the process. */
const sf_xml_api *sf_xml_api_get(const char **why);

#endif
