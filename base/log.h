/* log.h — log levels, the TF_LOG setting and hclog's JSON lines.
 *
 * go-plugin reads a plugin's stderr line by line; a line that is a JSON
 * object with @level/@message is shown by Terraform at that level (TF_LOG).
 * Every log line of the process is written here, one locked write per line
 * so that threads never interleave.  Never pass secrets.
 */
#ifndef SF_BASE_LOG_H
#define SF_BASE_LOG_H

typedef enum {
    SF_LOG_TRACE = 0,
    SF_LOG_DEBUG,
    SF_LOG_INFO,
    SF_LOG_WARN,
    SF_LOG_ERROR,
    SF_LOG_OFF, /* as a threshold: nothing is written */
} sf_log_level;

/* The threshold Terraform asks for: TF_LOG_PROVIDER, else TF_LOG; "trace" ..
 * "error" in any case, "json" meaning trace.  Unset, empty or anything else
 * (e.g. "off") gives SF_LOG_WARN, Terraform's own default. */
sf_log_level sf_log_level_from_env(void);

/* "trace" .. "error" ("info" for anything else). */
const char *sf_log_level_name(sf_log_level level);

/* One hclog line on stderr: {"@level","@message","@module","@timestamp"}
 * (module omitted when NULL), timestamp in UTC with microseconds. */
void sf_log_write(sf_log_level level, const char *module, const char *message);
void sf_log_writef(sf_log_level level, const char *module, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
