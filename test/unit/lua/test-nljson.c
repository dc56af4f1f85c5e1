#include <criterion/criterion.h>
Test(placeholder, nljson) { cr_assert(1); }
