/* aws_diag.h — AWS errors as Terraform diagnostics.
 *
 * aws/ knows nothing of Terraform: it reports an sf_aws_error.  The engines
 * (and the S3 lake) turn one into the diagnostic a user reads here.
 */
#ifndef SF_ENGINES_AWS_DIAG_H
#define SF_ENGINES_AWS_DIAG_H

#include "aws/aws.h"
#include "provider/diag.h"

/* An error diagnostic at `path` (NULL: none): summary as given, detail =
 * the error's text (sf_aws_error_text), then `hint` (may be NULL) after a
 * blank line. */
void sf_aws_diag_error(sf_diags *diags, const char *path, const char *summary, const sf_aws_error *e, const char *hint);

#endif
