/*
 * tsan_annot.h - the synchronisation ThreadSanitizer cannot see, told to it.
 *
 * Concurrency Kit's locks and rings are inline assembly, which TSan does not
 * instrument: without these notes every batch handed through a ring, and
 * every index slot read after a grow, would be reported as a data race, and
 * the real races TSan is there to find would drown. Each note names one
 * direction of one hand-over (a release by the side that publishes, an
 * acquire by the side that takes), so unrelated threads are never ordered
 * by accident: two index readers, for one, stay unordered, as they are.
 * No-ops unless built with -fsanitize=thread (make SAN=thread).
 */
#ifndef DDX_TSAN_ANNOT_H
#define DDX_TSAN_ANNOT_H

#if defined(__SANITIZE_THREAD__) /* GCC */
#define DDX_TSAN 1
#elif defined(__has_feature) /* clang */
#if __has_feature(thread_sanitizer)
#define DDX_TSAN 1
#endif
#endif

#ifdef DDX_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define DDX_TSAN_ACQUIRE(p) __tsan_acquire((void *)(p))
#define DDX_TSAN_RELEASE(p) __tsan_release((void *)(p))
#else
#define DDX_TSAN_ACQUIRE(p) ((void)0)
#define DDX_TSAN_RELEASE(p) ((void)0)
#endif

#endif
