/* list_filter.h — which objects a listing wants (`terraform query`): the
 * filters every list resource of this provider takes (states, a name
 * prefix, tags), judged the same way by each engine and orchestrator that
 * finds clusters or Airflow hosts (list_filter.c). */
#ifndef SF_LIST_FILTER_H
#define SF_LIST_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include "provider/value.h"

/* An implementation applies all of it, on its side where it can.  Borrowed
 * strings and values: the listing's config owns them. */
typedef struct sf_list_filter {
    const char *const *states; /* the implementation's words (any case); n_states 0: its active states */
    size_t n_states;
    const char *name_prefix; /* NULL: any name */
    const sf_value *tags;    /* map of string, each must be on the object; NULL: any */
    bool asked;              /* the user named this implementation (engine = "emr",
                                host = "ec2"): list even when its settings (e.g.
                                AWS) are only the defaults */
} sf_list_filter;

/* The filter's verdicts: a state among filter->states (any case), else
 * among `active` (NULL-terminated); a name starting with the prefix; tags
 * (a map of string, may be NULL) holding every filter tag.  Can't fail. */
bool sf_list_filter_state(const sf_list_filter *f, const char *state, const char *const *active);
bool sf_list_filter_name(const sf_list_filter *f, const char *name);
bool sf_list_filter_tags(const sf_list_filter *f, const sf_value *tags);

#endif
