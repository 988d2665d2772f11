/* The minor page faults of this process since `before` and of its waited-for children, per one
 * of `n` iterations, times 100 (getrusage), printed on stdout: what the *_faults.c programs
 * report to tests/cost.rs and scripts/bench. */
#include <stdio.h>
#include <sys/resource.h>

static void print_faults_per(const struct rusage *before, int n) {
    struct rusage self, children;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    printf("%ld\n", (self.ru_minflt - before->ru_minflt + children.ru_minflt) * 100 / n);
}
