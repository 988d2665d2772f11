/* Shared helpers for the signal-handler test programs: install a handler with sigaction (with or
 * without SA_SIGINFO), and unsafe functions called through volatile pointers so that the
 * compiler can neither delete nor inline the calls. */
#ifndef ASSAFE_TEST_SIG_H
#define ASSAFE_TEST_SIG_H
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *(*volatile s_malloc)(size_t) = malloc;
static void *(*volatile s_calloc)(size_t, size_t) = calloc;
static void (*volatile s_free)(void *) = free;
static int (*volatile s_printf)(const char *, ...) = printf;

__attribute__((unused)) static void install(int sig, void (*h)(int), int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) != 0) {
        perror("sigaction");
        exit(2);
    }
}

/* Writes a string with write(2) (async-signal-safe). */
__attribute__((unused)) static void say(const char *s) { (void)!write(1, s, strlen(s)); }

#endif
