/* test_ctx.c — cancellation reaches every sleeper promptly; deadlines hold. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/ctx.h"

typedef struct sleeper {
    sf_ctx *ctx;
    int rc;
    int64_t slept_ms;
} sleeper;

static void *sleep_long(void *arg)
{
    sleeper *s = arg;
    int64_t t0 = sf_time_mono_ms();
    s->rc = sf_ctx_sleep_ms(s->ctx, 60000);
    s->slept_ms = sf_time_mono_ms() - t0;
    return NULL;
}

static void test_cancel_wakes_all_children(void **state)
{
    (void)state;
    sf_ctx *root = sf_ctx_new_root(SF_LOG_ERROR);
    sleeper s[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        s[i].ctx = sf_ctx_new_child(root);
        pthread_create(&th[i], NULL, sleep_long, &s[i]);
    }
    sf_ctx *probe = sf_ctx_new_child(root);
    assert_int_equal(sf_ctx_sleep_ms(probe, 50), 0); /* a short sleep runs to its end */
    assert_false(sf_ctx_done(probe));
    sf_ctx_cancel(root);
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(s[i].rc, -1);
        assert_true(s[i].slept_ms < 1000);
        assert_string_equal(sf_ctx_reason(s[i].ctx), "cancelled");
        sf_ctx_free(s[i].ctx);
    }
    sf_ctx_free(probe);
    sf_ctx_free(root);
}

static void test_deadline_ends_sleep_and_never_extends(void **state)
{
    (void)state;
    sf_ctx *root = sf_ctx_new_root(SF_LOG_ERROR);
    sf_ctx *c = sf_ctx_new_child(root);
    int64_t t0 = sf_time_mono_ms();
    sf_ctx_set_deadline(c, t0 + 100);
    sf_ctx_set_deadline(c, t0 + 100000); /* later: ignored */
    assert_int_equal(sf_ctx_deadline(c), t0 + 100);
    sf_ctx *g = sf_ctx_new_child(c);
    assert_int_equal(sf_ctx_sleep_ms(g, 5000), -1);
    int64_t slept = sf_time_mono_ms() - t0;
    assert_true(slept >= 100 && slept < 1000);
    assert_string_equal(sf_ctx_reason(g), "timed out");
    assert_null(sf_ctx_reason(root));
    sf_ctx_free(g);
    sf_ctx_free(c);
    sf_ctx_free(root);
}

/* Cleanup after a cancel gets a context that is not done, with its own
 * bounded deadline and the operation's log level. */
static void test_cleanup_context_outlives_the_cancel(void **state)
{
    (void)state;
    sf_ctx *root = sf_ctx_new_root(SF_LOG_WARN), *op = sf_ctx_new_child(root);
    sf_ctx_cancel(root);
    assert_true(sf_ctx_done(op));
    int64_t before = sf_time_mono_ms();
    sf_ctx *cl = sf_ctx_new_cleanup(op, 30000);
    assert_false(sf_ctx_done(cl));
    assert_int_equal(sf_ctx_log_level(cl), SF_LOG_WARN);
    assert_true(sf_ctx_deadline(cl) >= before + 30000 && sf_ctx_deadline(cl) <= sf_time_mono_ms() + 30000);
    sf_ctx *quick = sf_ctx_new_cleanup(op, 20);
    assert_int_equal(sf_ctx_sleep_ms(quick, 5000), -1);
    assert_string_equal(sf_ctx_reason(quick), "timed out");
    sf_ctx_free(quick);
    sf_ctx_free(cl);
    sf_ctx_free(op);
    sf_ctx_free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cancel_wakes_all_children),
        cmocka_unit_test(test_deadline_ends_sleep_and_never_extends),
        cmocka_unit_test(test_cleanup_context_outlives_the_cancel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
