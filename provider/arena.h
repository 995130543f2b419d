/* TRANSITIONAL: arena moved to base/arena.h.  This forwarding header stays only
 * until every includer has moved (the lakes step's files); do not include it. */
#include "base/arena.h"
