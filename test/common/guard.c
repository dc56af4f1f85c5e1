/* guard.c — see guard.h. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guard.h"

struct guard_head {
    void *base;
    size_t total;
};

uint8_t *
guard_copy(const void *data, size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t body = (n + sizeof(struct guard_head) + page - 1) / page * page;
    size_t total = body + page;
    uint8_t *base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(base, MAP_FAILED, "mmap");
    cr_assert_eq(mprotect(base + body, page, PROT_NONE), 0, "mprotect");
    uint8_t *p = base + body - n;
    struct guard_head h = {base, total};
    memcpy(base, &h, sizeof h);
    if (n)
        memcpy(p, data, n);
    return p;
}

void
guard_free(uint8_t *p)
{
    if (!p)
        return;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    /* The header sits at the start of the mapping, which begins on a page boundary at
     * or below p. */
    uint8_t *base = (uint8_t *)((uintptr_t)(p - 1) & ~(uintptr_t)(page - 1));
    struct guard_head h;
    for (;;) {
        memcpy(&h, base, sizeof h);
        if (h.base == base)
            break;
        base -= page;
    }
    munmap(h.base, h.total);
}
