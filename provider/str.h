/* TRANSITIONAL: str moved to base/str.h.  This forwarding header stays only
 * until every includer has moved (the lakes step's files); do not include it. */
#include "base/str.h"
