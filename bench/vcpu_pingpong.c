/* Cache-line round trip between CPU 0 and CPU 1: two pinned threads bounce one atomic.
 *
 * On a 2-vCPU VM it tells the host's two placements apart (docs/perf/solver.md, "Zen 4,
 * 2026-12-04"): 60-77 ns when the vCPUs share a cache, about 350 ns when they do not, and
 * then the training epochs' kernels after a 2-thread GEMM run 2-4x slower.  Check it before
 * quoting a 2-thread epoch.
 *
 *     gcc -O2 -pthread bench/vcpu_pingpong.c -o /tmp/vcpu_pingpong && /tmp/vcpu_pingpong
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#define ROUND_TRIPS 200000

static _Atomic int flag __attribute__((aligned(64)));

static void pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static void *answer(void *unused) {
    (void)unused;
    pin(1);
    for (int i = 0; i < ROUND_TRIPS; i++) {
        while (atomic_load_explicit(&flag, memory_order_acquire) != 1) {
        }
        atomic_store_explicit(&flag, 0, memory_order_release);
    }
    return NULL;
}

int main(void) {
    pthread_t other;
    struct timespec t0, t1;
    pin(0);
    pthread_create(&other, NULL, answer, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < ROUND_TRIPS; i++) {
        atomic_store_explicit(&flag, 1, memory_order_release);
        while (atomic_load_explicit(&flag, memory_order_acquire) != 0) {
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    pthread_join(other, NULL);
    double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
    printf("CPU 0 <-> CPU 1 cache-line round trip: %.0f ns\n", ns / ROUND_TRIPS);
    return 0;
}
