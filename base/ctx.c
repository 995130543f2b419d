/* ctx.c — cancellation, deadlines and logging for one RPC.
 *
 * Contexts form a tree: the server's root, one child per RPC, and whatever
 * an engine derives for a sub-step.  Cancelling the root (StopProvider,
 * shutdown) wakes every sleeper in the tree at once: they all wait on the
 * root's condition variable, so cancel is one broadcast.
 */
#include "base/ctx.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/str.h"

struct sf_ctx {
    sf_ctx *parent;
    sf_ctx *root;
    /* Only the root's lock and condition are used; children share them. */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool cancelled;
    int64_t deadline_ms; /* 0: none */
    sf_log_level level;
    const char *log_module; /* NULL: none */
};

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (!p) abort();
    return p;
}

sf_ctx *sf_ctx_new_named_root(sf_log_level level, const char *log_module)
{
    sf_ctx *c = xcalloc(1, sizeof *c);
    c->root = c;
    c->level = level;
    c->log_module = log_module;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&c->wake, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

sf_ctx *sf_ctx_new_root(sf_log_level level)
{
    return sf_ctx_new_named_root(level, NULL);
}

sf_ctx *sf_ctx_new_child(sf_ctx *parent)
{
    sf_ctx *c = xcalloc(1, sizeof *c);
    c->parent = parent;
    c->root = parent->root;
    c->level = parent->level;
    c->log_module = parent->log_module;
    return c;
}

sf_ctx *sf_ctx_new_cleanup(const sf_ctx *ctx, int64_t budget_ms)
{
    sf_ctx *c = ctx ? sf_ctx_new_named_root(ctx->level, ctx->log_module) : sf_ctx_new_root(SF_LOG_INFO);
    sf_ctx_set_deadline(c, sf_time_mono_ms() + budget_ms);
    return c;
}

void sf_ctx_free(sf_ctx *ctx)
{
    if (!ctx) return;
    if (ctx->root == ctx) {
        pthread_cond_destroy(&ctx->wake);
        pthread_mutex_destroy(&ctx->lock);
    }
    free(ctx);
}

void sf_ctx_cancel(sf_ctx *ctx)
{
    pthread_mutex_lock(&ctx->root->lock);
    ctx->cancelled = true;
    pthread_cond_broadcast(&ctx->root->wake);
    pthread_mutex_unlock(&ctx->root->lock);
}

sf_log_level sf_ctx_log_level(const sf_ctx *ctx)
{
    return ctx->level;
}

/* The earliest deadline on the way to the root; 0 when none.  Caller holds
 * the root lock. */
static int64_t effective_deadline(const sf_ctx *ctx)
{
    int64_t d = 0;
    for (const sf_ctx *c = ctx; c; c = c->parent)
        if (c->deadline_ms && (!d || c->deadline_ms < d)) d = c->deadline_ms;
    return d;
}

static bool cancelled_locked(const sf_ctx *ctx)
{
    for (const sf_ctx *c = ctx; c; c = c->parent)
        if (c->cancelled) return true;
    return false;
}

/* Caller holds the root lock. */
static const char *reason_locked(const sf_ctx *ctx)
{
    if (cancelled_locked(ctx)) return "cancelled";
    int64_t d = effective_deadline(ctx);
    if (d && sf_time_mono_ms() >= d) return "timed out";
    return NULL;
}

const char *sf_ctx_reason(const sf_ctx *ctx)
{
    pthread_mutex_lock(&ctx->root->lock);
    const char *r = reason_locked(ctx);
    pthread_mutex_unlock(&ctx->root->lock);
    return r;
}

bool sf_ctx_done(const sf_ctx *ctx)
{
    return sf_ctx_reason(ctx) != NULL;
}

int sf_ctx_sleep_ms(sf_ctx *ctx, int64_t ms)
{
    pthread_mutex_t *lock = &ctx->root->lock;
    pthread_mutex_lock(lock);
    int64_t until = sf_time_mono_ms() + (ms > 0 ? ms : 0);
    int64_t d = effective_deadline(ctx);
    bool deadline_first = d && d < until;
    if (deadline_first) until = d;
    int rc = 0;
    for (;;) {
        if (cancelled_locked(ctx)) {
            rc = -1;
            break;
        }
        int64_t now = sf_time_mono_ms();
        if (now >= until) {
            rc = deadline_first ? -1 : 0;
            break;
        }
        struct timespec ts = {.tv_sec = until / 1000, .tv_nsec = (until % 1000) * 1000000};
        pthread_cond_timedwait(&ctx->root->wake, lock, &ts);
    }
    pthread_mutex_unlock(lock);
    return rc;
}

void sf_ctx_set_deadline(sf_ctx *ctx, int64_t deadline_ms)
{
    pthread_mutex_lock(&ctx->root->lock);
    if (deadline_ms > 0 && (!ctx->deadline_ms || deadline_ms < ctx->deadline_ms)) ctx->deadline_ms = deadline_ms;
    pthread_mutex_unlock(&ctx->root->lock);
}

int64_t sf_ctx_deadline(const sf_ctx *ctx)
{
    pthread_mutex_lock(&ctx->root->lock);
    int64_t d = effective_deadline(ctx);
    pthread_mutex_unlock(&ctx->root->lock);
    return d;
}

/* ---- Logging ------------------------------------------------------------- */

void sf_log(const sf_ctx *ctx, sf_log_level level, const char *fmt, ...)
{
    if (ctx && level < ctx->level) return;
    va_list ap;
    va_start(ap, fmt);
    char *msg = sf_vfmt(fmt, ap);
    va_end(ap);
    sf_log_write(level, ctx ? ctx->log_module : NULL, msg);
    free(msg);
}
