/* aws_diag.c — AWS errors as Terraform diagnostics (aws_diag.h). */
#include "engines/aws_diag.h"

#include <stdlib.h>

void sf_aws_diag_error(sf_diags *diags, const char *path, const char *summary, const sf_aws_error *e, const char *hint)
{
    char *text = sf_aws_error_text(e);
    sf_diag_error(diags, path, summary, "%s%s%s", text, hint ? "\n\n" : "", hint ? hint : "");
    free(text);
}
