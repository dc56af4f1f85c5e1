#include <criterion/criterion.h>
Test(placeholder, modules) { cr_assert(1); }
