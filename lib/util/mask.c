/* mask.c — the portable payload (un)masking and the dispatch to the fastest one. */
#include <pthread.h>
#include <string.h>

#include "util/cpu.h"
#include "util/mask.h"

uint32_t
lapps__mask_scalar(uint8_t *p, size_t n, uint32_t key)
{
    uint64_t k8 = ((uint64_t)key << 32) | key;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        w ^= k8;
        memcpy(p + i, &w, 8);
    }
    uint8_t k[4];
    memcpy(k, &key, 4);
    for (size_t j = 0; i < n; i++, j++)
        p[i] ^= k[j & 3];
    return lapps__mask_rotate(key, n);
}

const struct lapps__mask_impl lapps__mask_impls[] = {
    {"scalar", lapps__mask_scalar, 0},
    {NULL, NULL, 0},
};

static uint32_t (*best)(uint8_t *, size_t, uint32_t) = lapps__mask_scalar;
static pthread_once_t best_once = PTHREAD_ONCE_INIT;

static void
choose(void)
{
    for (const struct lapps__mask_impl *i = lapps__mask_impls; i->name; i++)
        if (lapps__cpu_has(i->needs))
            best = i->mask;
}

uint32_t
lapps__mask(uint8_t *p, size_t n, uint32_t key)
{
    pthread_once(&best_once, choose);
    return best(p, n, key);
}
