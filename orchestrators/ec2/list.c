/* list.c — the EC2 orchestrator's host listing: the instances this provider
 * started as Airflow hosts (tagged sparkflow:managed=true and carrying
 * sparkflow:airflow, the host's name) in the provider's region, whatever
 * state file holds them, or none (the orphan finder of `terraform query`).
 *
 * EC2 applies the filters: DescribeInstances with the managed tag, the
 * sparkflow:airflow tag key (EMR's instances carry the managed tag too:
 * EMR copies a cluster's tags onto them), the states (default pending and
 * running: what is billed) and one tag:<key> filter per tag asked for;
 * the name prefix is judged here, on the sparkflow:airflow tag.  Each host
 * is reported from the instance alone (its tags keep the block and what
 * was made, ec2.h), as an import reads it but without the password: a
 * listing fetches no secret, and makes no call per host.  Without being
 * asked for (`host = "ec2"`), EC2 is listed only when the provider has AWS
 * settings: a laptop running local hosts only never calls AWS.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/time.h"
#include "orchestrators/ec2/ec2.h"

static const char *const active_states[] = {"pending", "running", NULL};

/* What the per-instance callback needs. */
typedef struct listing {
    sf_aws_client *c;
    const sf_list_filter *filter;
    sf_airflow_found_fn found;
    void *arg;
    sf_diags *diags;
    bool more; /* `found` wants more */
} listing;

/* "running, up 3h12m, t3.large": state, age, what is billed. */
static char *summary_of(const sf_aws_ec2_instance *inst)
{
    char up[SF_TIME_SPAN_LEN] = "?";
    int64_t launched = sf_time_parse_rfc3339_ms(inst->launch_time);
    if (launched >= 0) sf_time_span(up, (sf_time_wall_ms() - launched) / 1000);
    return sf_fmt("%s, up %s, %s", inst->state ? inst->state : "?", up,
                  inst->instance_type ? inst->instance_type : "?");
}

/* The instance's tags as a map of string, for the tags verdict. */
static sf_value *tags_of(const sf_aws_ec2_instance *inst)
{
    sf_value *m = sf_value_map();
    for (size_t i = 0; i < inst->n_tags; i++) sf_value_put(m, inst->tags[i].name, sf_value_string(inst->tags[i].value));
    return m;
}

static bool visit(void *arg, const sf_aws_ec2_instance *inst)
{
    listing *l = arg;
    const char *managed = sf_aws_ec2_instance_tag(inst, "sparkflow:managed");
    sf_value *tags = tags_of(inst);
    /* EC2 filtered on all of this already; a looser endpoint must not make
     * a foreign instance ours. */
    bool keep = managed && strcmp(managed, "true") == 0 &&
                sf_list_filter_name(l->filter, sf_aws_ec2_instance_tag(inst, "sparkflow:airflow")) &&
                sf_list_filter_state(l->filter, inst->state, active_states) && sf_list_filter_tags(l->filter, tags);
    sf_value_free(tags);
    if (!keep) return true;
    sf_airflow_host h = {0};
    sf_diags mine;
    sf_diags_init(&mine);
    if (sf_ec2_host_from_tags(l->c, inst, &h, &mine) == 0) {
        char *summary = summary_of(inst);
        l->more = l->found(l->arg, &h, summary);
        free(summary);
    } else {
        /* Tagged by hand, or its tags were edited: not one to adopt. */
        sf_diag_warning(l->diags, NULL, "EC2 instance not listed",
                        "Instance %s carries sparkflow:managed and sparkflow:airflow but not the rest of the tags "
                        "the provider puts on an Airflow host (sparkflow:password-parameter, sparkflow:spec:*), so "
                        "it cannot be imported.",
                        inst->id);
    }
    sf_diags_clear(&mine);
    sf_airflow_host_clear(&h);
    return l->more;
}

/* The filters sent to EC2.  `words` gets the state words, lower-cased,
 * `tag_names` the "tag:<key>" names (the caller frees each), `tag_values`
 * the values (borrowed).  A tag asked for with a null value is judged here
 * alone (none has it). */
static size_t filters_of(const sf_list_filter *f, sf_aws_ec2_filter *out, char **words, char **tag_names,
                         const char **tag_values)
{
    static const char *const yes[] = {"true"}, *const airflow[] = {"sparkflow:airflow"};
    size_t n = 0;
    out[n++] = (sf_aws_ec2_filter){"tag:sparkflow:managed", yes, 1};
    out[n++] = (sf_aws_ec2_filter){"tag-key", airflow, 1};
    size_t n_states = f->n_states;
    for (size_t i = 0; i < n_states; i++) {
        words[i] = sf_strdup(f->states[i]);
        for (char *p = words[i]; *p; p++) *p = (char)tolower((unsigned char)*p);
    }
    out[n++] = n_states ? (sf_aws_ec2_filter){"instance-state-name", (const char *const *)words, n_states}
                        : (sf_aws_ec2_filter){"instance-state-name", active_states, 2};
    for (size_t i = 0; f->tags && i < f->tags->n; i++) {
        tag_values[i] = sf_value_get_str(f->tags->elems[i]);
        if (!tag_values[i]) continue;
        tag_names[i] = sf_fmt("tag:%s", f->tags->keys[i]);
        out[n++] = (sf_aws_ec2_filter){tag_names[i], &tag_values[i], 1};
    }
    return n;
}

sf_engine_status sf_ec2_host_list(sf_ctx *ctx, const sf_engine_env *env, const sf_list_filter *filter,
                                  sf_airflow_found_fn found, void *arg, sf_diags *diags)
{
    if (!filter->asked && !sf_engine_env_aws_set(env)) return SF_ENGINE_OK;
    size_t n_tags = filter->tags ? filter->tags->n : 0;
    sf_aws_ec2_filter *filters = calloc(3 + n_tags, sizeof *filters);
    char **words = calloc(filter->n_states + 1, sizeof *words), **tag_names = calloc(n_tags + 1, sizeof *tag_names);
    const char **tag_values = calloc(n_tags + 1, sizeof *tag_values);
    if (!filters || !words || !tag_names || !tag_values) abort();
    size_t n = filters_of(filter, filters, words, tag_names, tag_values);
    sf_aws_client *owned = NULL;
    listing l = {.c = sf_engine_env_aws(env, &owned), .filter = filter, .found = found, .arg = arg, .diags = diags};
    l.more = true;
    sf_aws_error err = {0};
    int rc = sf_aws_ec2_describe_instances(l.c, ctx, filters, n, visit, &l, &err);
    if (rc != 0)
        sf_aws_diag_error(diags, NULL, "Cannot list the Airflow instances", &err,
                          "The credentials need ec2:DescribeInstances.");
    sf_aws_error_clear(&err);
    sf_aws_client_free(owned);
    for (size_t i = 0; i < filter->n_states; i++) free(words[i]);
    for (size_t i = 0; i < n_tags; i++) free(tag_names[i]);
    free(words);
    free(tag_names);
    free(tag_values);
    free(filters);
    return rc == 0 ? SF_ENGINE_OK : SF_ENGINE_ERROR;
}
