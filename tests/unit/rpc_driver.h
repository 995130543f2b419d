/* rpc_driver.h — driving the provider runtime's RPCs in-process from a
 * cmocka test: pack a request, hand it to sf_runtime_handle as the
 * transport would, unpack the answer.  Shared by the tests of identities,
 * list resources and actions; include after <cmocka.h>. */
#ifndef SF_TEST_RPC_DRIVER_H
#define SF_TEST_RPC_DRIVER_H

#include <protobuf-c/protobuf-c.h>
#include <stdint.h>
#include <stdlib.h>

#include "provider/runtime.h"

/* `req` (a protobuf-c message) packed into a malloc'd buffer of *len bytes. */
static inline uint8_t *rpc_packed(const void *req, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(req);
    uint8_t *buf = malloc(*len ? *len : 1);
    protobuf_c_message_pack(req, buf);
    return buf;
}

/* A unary call of `method` with `req` that must succeed; the answer
 * unpacked as `resp_desc` (free with protobuf_c_message_free_unpacked). */
static inline void *rpc_unary(sf_runtime *rt, const char *method, const void *req,
                              const ProtobufCMessageDescriptor *resp_desc)
{
    size_t len;
    uint8_t *buf = rpc_packed(req, &len);
    void *resp = NULL;
    size_t resp_len = 0;
    char *msg = NULL;
    assert_int_equal(sf_runtime_handle(rt, method, buf, len, &resp, &resp_len, &msg), 0);
    ProtobufCMessage *out = protobuf_c_message_unpack(resp_desc, NULL, resp_len, resp);
    assert_non_null(out);
    free(buf);
    free(resp);
    free(msg);
    return out;
}

#endif
