// Step 0 placeholder: implemented by the query work.
#include "store/postgres/store_rows.h"
