/* ctx.h — the context of one RPC: cancellation, deadline and logging.
 *
 * Long operations (waiting for a cluster, a Spark stage) receive a context and
 * must return promptly once it is cancelled: Terraform's StopProvider (Ctrl-C),
 * the operation's timeout, or the provider shutting down.  Sleeping through
 * sf_ctx_sleep_ms is how an operation waits without missing a cancel.
 */
#ifndef SF_BASE_CTX_H
#define SF_BASE_CTX_H

#include <stdbool.h>
#include <stdint.h>

#include "base/log.h"
#include "base/time.h"

typedef struct sf_ctx sf_ctx;

/* A root context belongs to the server: cancelling it (StopProvider,
 * shutdown) cancels every child.  Each RPC gets a child; engines may make
 * grandchildren with their own deadlines.  A child must be freed before its
 * parent.  Allocation failure aborts; these can't fail otherwise. */
sf_ctx *sf_ctx_new_root(sf_log_level level);
/* The same, with the hclog @module its log lines carry (a string that
 * outlives the tree, e.g. the provider's name); sf_ctx_new_root has none. */
sf_ctx *sf_ctx_new_named_root(sf_log_level level, const char *log_module);
sf_ctx *sf_ctx_new_child(sf_ctx *parent);
/* For the cleanup an operation owes after ctx was cancelled or timed out
 * (terminate what it started, abort an upload): a new root with ctx's log
 * level and module that no StopProvider cancels, bounded by `budget_ms`. */
sf_ctx *sf_ctx_new_cleanup(const sf_ctx *ctx, int64_t budget_ms);
void sf_ctx_cancel(sf_ctx *ctx);
void sf_ctx_free(sf_ctx *ctx);
sf_log_level sf_ctx_log_level(const sf_ctx *ctx);

/* True once the operation must stop: cancelled or past its deadline. */
bool sf_ctx_done(const sf_ctx *ctx);
/* Why sf_ctx_done is true: "cancelled" or "timed out" (NULL when not done). */
const char *sf_ctx_reason(const sf_ctx *ctx);
/* Sleep up to ms; returns 0 after a full sleep, -1 when woken by cancel or
 * deadline (check sf_ctx_reason). */
int sf_ctx_sleep_ms(sf_ctx *ctx, int64_t ms);
/* Absolute deadline (sf_time_mono_ms clock), 0 for none.  A child deadline never
 * extends the parent's: setting a later one than present is ignored. */
void sf_ctx_set_deadline(sf_ctx *ctx, int64_t deadline_ms);
int64_t sf_ctx_deadline(const sf_ctx *ctx);

/* A log line (base/log.h) at `level` when the context's threshold lets it
 * through (ctx may be NULL: always).  Never pass secrets. */
void sf_log(const sf_ctx *ctx, sf_log_level level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
