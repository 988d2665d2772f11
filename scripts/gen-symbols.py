#!/usr/bin/env python3
"""Generate symbols.txt (and docs/symbols.md) from the reference data.

    python3 scripts/gen-symbols.py                  rewrite symbols.txt and docs/symbols.md (and the
                                                    symbols table block of README.md)
    python3 scripts/gen-symbols.py --check          exit 1 if any of them is stale
    python3 scripts/gen-symbols.py --check-libc     also parse --libc (ELF .dynsym and
                                                    version tables) and fail if it exports
                                                    a public function symbols.txt lacks

Inputs (--reference DIR, default data/reference in this repository):
libc-exports.tsv, glibc-as-annotations.tsv, posix-as-safe.txt,
posix-as-safe-issue8-unverified.txt, variadic-exports.tsv.  The output depends only
on those files and on the tables in this script; the libc ELF is only read by
--check-libc, which also verifies the ELF-derived tables below (SAME_CODE,
DISTINCT_VERSIONED) against the real libc.

README.md is written by hand except for the block between the lines
<!-- symbols-table:begin --> and <!-- symbols-table:end -->, which this script
regenerates (and --check verifies); without both markers README.md is left alone.

Python 3 standard library only.
"""

import argparse
import os
import re
import struct
import sys
from collections import Counter, defaultdict

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_REFERENCE = os.path.join(REPO, "data", "reference")
DEFAULT_LIBC = "/lib/x86_64-linux-gnu/libc.so.6"
SYMBOLS = os.path.join(REPO, "symbols.txt")
DOC = os.path.join(REPO, "docs", "symbols.md")
README = os.path.join(REPO, "README.md")
README_BEGIN = "<!-- symbols-table:begin -->"
README_END = "<!-- symbols-table:end -->"

HOT_PATHS = {"malloc", "pthread-sync", "tls/errno/ctype-accessor"}

# --------------------------------------------------------------------------
# Tables (the judgement lives here)
# --------------------------------------------------------------------------

# The fd-making calls the library interposes to note where an fd without close-on-exec is made
# (process hygiene, fd-leak). fcntl(F_DUPFD) is not among them: every fcntl call would pay.
FD_MAKERS = ["pipe", "pipe2", "socket", "socketpair", "accept", "accept4", "open", "open64",
             "__open_2", "__open64_2", "openat", "openat64", "__openat_2", "__openat64_2",
             "creat", "creat64", "dup", "dup2", "dup3", "eventfd", "epoll_create",
             "epoll_create1", "signalfd", "timerfd_create", "memfd_create", "inotify_init",
             "inotify_init1"]

# Names whose special handling in the library gives them their own class.
SPECIAL = {
    "fork": "fork", "__fork": "fork",
    "_Fork": "_fork",
    "vfork": "vfork", "__vfork": "vfork",
    "execve": "exec", "execv": "exec", "execvp": "exec", "execvpe": "exec",
    "execl": "exec", "execle": "exec", "execlp": "exec", "fexecve": "exec",
    "execveat": "exec",
    "exit": "exit", "quick_exit": "exit",
    "_exit": "_exit", "_Exit": "_exit",
    "sigaction": "sigaction", "__sigaction": "sigaction", "signal": "sigaction",
    "sysv_signal": "sigaction", "__sysv_signal": "sigaction",
    "bsd_signal": "sigaction", "ssignal": "sigaction", "sigset": "sigaction",
    "longjmp": "jmp", "_longjmp": "jmp", "siglongjmp": "jmp", "__longjmp_chk": "jmp",
    "pthread_setcanceltype": "cancel",
    # Lock initialisers: a fork child notes the locks it makes itself (no vanished thread can
    # hold them); outside a fork child the stub goes straight to libc.
    "pthread_mutex_init": "init", "pthread_rwlock_init": "init", "sem_init": "init",
    "mtx_init": "init", "pthread_cond_init": "init",
    "dlopen": "dlopen", "dlmopen": "dlopen", "dlclose": "dlopen",
    # Calls after which the log may be unreachable (seccomp filter, chroot, namespaces, another
    # uid): the library prepares its log file before the real call.
    "prctl": "sandbox", "syscall": "sandbox", "chroot": "sandbox", "unshare": "sandbox",
    "setns": "sandbox", "setuid": "sandbox", "setgid": "sandbox", "seteuid": "sandbox",
    "setegid": "sandbox", "setreuid": "sandbox", "setregid": "sandbox",
    "setresuid": "sandbox", "setresgid": "sandbox",
    # Calls that make an fd: the library notes where one is made without close-on-exec (the
    # fd-leak finding names that call when a fork child's exec hands the fd on).
    **{n: "fd" for n in FD_MAKERS},
    # Exit-handler registrations: the library counts the program's own (exit-in-child says which
    # handlers a fork child's exit() runs again).
    "__cxa_atexit": "atexit", "atexit": "atexit", "on_exit": "atexit",
    # Spawns: the library checks the fds the spawned program inherits (fd-leak), as at an exec.
    "posix_spawn": "spawn", "posix_spawnp": "spawn",
    # Thread creation: the process becomes multi-threaded, so the library arms its fork sentinel
    # (a fork it does not see then makes a child worth checking).
    "pthread_create": "thread", "thrd_create": "thread",
}

# Never interposed: called before the library can run, or with a non-C ABI.
LOADER = {
    "__libc_start_main": "process startup; runs before any interposer could be initialised",
    "__libc_start_call_main": "process startup",
    "__libc_init_first": "process startup",
    "__tls_get_addr": "the TLS accessor of compiled code (musl's libc.so is also its loader)",
    "_init": "object initialisation entry (musl's libc.so)",
    "_fini": "object finalisation entry (musl's libc.so)",
    "__dls2": "musl's dynamic-loader bootstrap stage",
    "__dls2b": "musl's dynamic-loader bootstrap stage",
    "__dls3": "musl's dynamic-loader bootstrap stage",
    "mcount": "profiling hook with a register-preserving ABI, called on every function entry",
    "_mcount": "profiling hook with a register-preserving ABI, called on every function entry",
    "__fentry__": "profiling hook with a register-preserving ABI, called on every function entry",
}
LOADER_RE = re.compile(r"^_dl_")  # dynamic-loader interfaces re-exported by libc

# Names that are the same code as another, documented name in glibc 2.36 x86_64
# (same st_value in .dynsym; --check-libc verifies this).
SAME_CODE = {
    "_longjmp": "longjmp", "bsd_signal": "signal", "__strsep_g": "strsep",
    "_obstack_free": "obstack_free", "_IO_flush_all_linebuffered": "_flushlbf",
    "__toascii_l": "toascii", "__isascii_l": "isascii",
    "strtof32": "strtof", "strtof32x": "strtod", "strtof64x": "strtold",
    "wcstof32": "wcstof", "wcstof32x": "wcstod", "wcstof64x": "wcstold",
    "strfromf32": "strfromf", "strfromf32x": "strfromd", "strfromf64x": "strfroml",
}

# Thin entry points that behave like another name (fortify/ABI wrappers,
# compatibility entry points); not the same code, so not address-checked.
WRAPPERS = {
    "__open_2": "open", "__open64_2": "open", "__openat_2": "openat",
    "__openat64_2": "openat", "__xstat": "stat", "__xstat64": "stat",
    "__fxstat": "fstat", "__fxstat64": "fstat", "__lxstat": "lstat",
    "__lxstat64": "lstat", "__fxstatat": "fstatat", "__fxstatat64": "fstatat",
    "__xmknod": "mknod", "__xmknodat": "mknodat", "__xpg_sigpause": "sigpause",
    "__ppoll_chk": "ppoll", "__mq_open_2": "mq_open", "__bsd_getpgrp": "getpgrp",
    "__posix_getopt": "getopt", "__xpg_strerror_r": "strerror_r",
    "__assert_fail": "assert", "__assert_perror_fail": "assert_perror",
    "__xpg_basename": "basename", "__statfs": "statfs",
}

# Undocumented names whose glibc verdict follows a documented sibling with the
# same implementation strategy (the POSIX verdict is not inherited).
LIKE = {"sem_clockwait": "sem_timedwait", "pthread_mutex_clocklock": "pthread_mutex_timedlock"}

# Names exported with several versions whose versions are DISTINCT code in
# glibc 2.36 x86_64 (different st_value; --check-libc verifies the list).  An
# unversioned interposer binds references to every version of the name and can
# only forward to the default one, so it would send old binaries to the new
# implementation: such names are never interposed (class skip when unsafe).
# Names of DISTINCT_VERSIONED that are interposed nevertheless: build.rs gives each version the
# build libc defines its own stub (the default one `name@@VERSION`, each compatibility version a
# hidden `name@VERSION`), whose slot holds that same version of libc, so no binary is sent to
# another implementation (build.rs PER_VERSION lists the same names).
PER_VERSION = {
    "pthread_cond_init", "pthread_cond_wait", "pthread_cond_timedwait", "pthread_cond_signal",
    "pthread_cond_broadcast", "posix_spawn", "posix_spawnp",
}

DISTINCT_VERSIONED = {
    "fmemopen", "glob", "glob64", "lio_listio", "lio_listio64", "memcpy", "nftw",
    "nftw64", "posix_spawn", "posix_spawnp", "pthread_attr_getaffinity_np",
    "pthread_attr_setaffinity_np", "pthread_cond_broadcast", "pthread_cond_destroy",
    "pthread_cond_init", "pthread_cond_signal", "pthread_cond_timedwait",
    "pthread_cond_wait", "pthread_getaffinity_np", "pthread_kill",
    "pthread_setaffinity_np", "quick_exit", "realpath", "regexec",
    "sched_getaffinity", "sched_setaffinity", "timer_create", "timer_delete",
    "timer_getoverrun", "timer_gettime", "timer_settime",
}

# Family rules, first match wins, matched against the base name (alias target)
# and then the name itself.  kind:
#   family  - the function belongs to a family with shared libc state; when the
#             glibc manual is silent it is judged AS-unsafe for that reason
#   pure    - touches no shared state (string, memory, ctype, math, parsing of
#             caller-owned data): not interposed unless the manual says unsafe
#   syscall - thin system-call wrapper: not interposed unless the manual says unsafe
R = re.compile
RULES = [
    # ---- names of other libcs (glibc 2.31, >= 2.37, musl) that no pattern below covers
    (R(r"^(stdc_\w+|uabs|ulabs|ullabs|umaxabs|memalignment|pthread_gettid_np|cfgetibaud|cfgetobaud|cfsetbaud|cfsetibaud|cfsetobaud|sstk)$"), "pure", "pure"),
    (R(r"^(mseal|openat2|sysctl|__sysctl|vtimes|getdents|posix_close|tcgetwinsize|tcsetwinsize)$"), "syscall", "syscall"),
    (R(r"^(__flt_rounds|__fpclassifyf|__fpclassifyl|pow10|pow10f|pow10l|remquo|remquof|remquol|ns_get16|ns_get32|ns_put16|ns_put32|ns_initparse|ns_parserr|ns_skiprr)$"), "pure", "pure"),
    (R(r"^(__freadahead|__freadptr|__freadptrinc|__fseterr|fgetln)$"), "stdio", "family"),
    (R(r"^(free_sized|free_aligned_sized|__default_morecore|tr_break)$"), "heap", "family"),
    (R(r"^(xdr_free|xdr_bytes|xdr_string|xdr_wrapstring|xdr_array|xdr_vector|xdr_reference|xdr_pointer|xdr_netobj|xdrrec_\w+|xdrstdio_create)$"), "heap", "family"),
    (R(r"^(xdr\w*)$"), "pure", "pure"),
    (R(r"^(clnt\w*|svc\w*|authdes_\w+|authnone_create|authunix_\w+|pmap_\w+|callrpc|registerrpc|key_\w+|getnetname|host2netname|netname2\w+|user2netname|getpublickey|getsecretkey|get_myaddress|getrpcport|rtime|_authenticate|_seterr_reply|xprt_\w+|__rpc_thread_\w+|_rpc_dtablesize|passwd2des|xencrypt|xdecrypt)$"), "nss", "family"),
    # ---- pure or syscall functions that a family pattern below would catch
    (R(r"^pthread_(mutex|rwlock|cond|barrier|condattr|mutexattr|rwlockattr|barrierattr|spin)_(init|destroy)$"), "pure", "pure"),
    (R(r"^pthread_(attr|mutexattr|rwlockattr|condattr|barrierattr|spawnattr)_"), "pure", "pure"),
    (R(r"^posix_spawnattr_"), "pure", "pure"),
    (R(r"^pthread_mutex_(consistent|getprioceiling)$"), "pure", "pure"),
    (R(r"^(pthread_equal|pthread_getconcurrency|pthread_setconcurrency|pthread_getcpuclockid|pthread_setcancelstate)$"), "pure", "pure"),
    (R(r"^(__pthread_register_cancel|__pthread_register_cancel_defer|__pthread_unregister_cancel|__pthread_unregister_cancel_restore|__pthread_cleanup_routine|_pthread_cleanup_push|_pthread_cleanup_pop)$"), "pure", "pure"),
    (R(r"^(pthread_setname_np|pthread_getname_np|pthread_sigqueue|pthread_setaffinity_np|pthread_getaffinity_np)$"), "syscall", "syscall"),
    (R(r"^(mtx_init|mtx_destroy|cnd_init|cnd_destroy|tss_get|thrd_current|thrd_equal|pthread_spin_trylock|pthread_spin_unlock)$"), "pure", "pure"),
    (R(r"^(thrd_sleep|thrd_yield|execveat)$"), "syscall", "syscall"),
    (R(r"^(_obstack_allocated_p|_obstack_memory_used)$"), "pure", "pure"),
    (R(r"^(uselocale|__uselocale|nl_langinfo_l|__nl_langinfo_l)$"), "pure", "pure"),
    (R(r"^(__cyg_profile_func_enter|__cyg_profile_func_exit)$"), "pure", "pure"),
    (R(r"^(__stack_chk_fail|__chk_fail|__fdelt_chk|__fdelt_warn)$"), "pure", "pure"),
    (R(r"^(sem_init|sem_destroy|sem_getvalue)$"), "pure", "pure"),
    (R(r"^(res_dnok|res_hnok|res_mailok|res_ownok|dn_comp|dn_expand|dn_skipname|ns_name_\w+|__res_randomid|__res_state|inet_nsap_addr)$"), "pure", "pure"),
    (R(r"^(ether_aton_r|ether_ntoa_r|sgetspent_r|sgetsgent_r)$"), "pure", "pure"),
    (R(r"^(rand_r|\w+48_r|random_r|srandom_r|initstate_r|setstate_r)$"), "pure", "pure"),
    (R(r"^(rresvport|rresvport_af|bindresvport)$"), "syscall", "syscall"),
    (R(r"^(getdirentries|getdirentries64|dirfd|alphasort|alphasort64|versionsort|versionsort64)$"), "syscall", "syscall"),
    (R(r"^(asctime_r|dysize|difftime|ftime|timespec_get|timespec_getres|getutmp|getutmpx|hasmntopt|strerrordesc_np|strerrorname_np|pthread_getspecific)$"), "pure", "pure"),
    (R(r"^(gethostname|__gethostname_chk|settimeofday|sigaltstack|sigblock|sigsetmask|sigstack|sigvec|posix_fallocate\w*|ptsname_r|unlockpt|getdents64)$"), "syscall", "syscall"),

    # ---- families with shared libc state (judged unsafe when undocumented)
    (R(r"^(__libc_)?(malloc|calloc|realloc|reallocarray|free|cfree|memalign|posix_memalign|aligned_alloc|valloc|pvalloc)$"), "heap", "family"),
    (R(r"^(__libc_)?(malloc_\w+|mallinfo2?|mallopt|mtrace|muntrace|mcheck\w*|mprobe|__libc_freeres)$"), "heap", "family"),
    (R(r"^(__)?(strdup|strndup|wcsdup|strdupa|strndupa)$"), "heap", "family"),
    (R(r"^(qsort|qsort_r|tsearch|tdelete|tdestroy|hcreate|hdestroy|hsearch|hcreate_r|hdestroy_r|__sched_cpualloc|__sched_cpufree|_obstack_\w+|obstack_free|freeaddrinfo|freeifaddrs|getifaddrs|sgetspent|sgetsgent|re_\w+|regcomp|regfree|__printf_fp|register_printf_\w+|setsourcefilter|getsourcefilter|setipv4sourcefilter|getipv4sourcefilter|sprofil|monstartup|__monstartup|_mcleanup|posix_spawn_file_actions_\w+)$"), "heap", "family"),
    (R(r"^(fgetpwent\w*|fgetgrent\w*|fgetspent\w*|fgetsgent\w*|putpwent|putgrent|putspent|putsgent)$"), "stdio", "family"),
    (R(r"^(syslog|vsyslog|openlog|closelog|setlogmask|__syslog_chk|__vsyslog_chk)$"), "syslog", "family"),
    (R(r"^(__)?(getenv|secure_getenv|setenv|putenv|unsetenv|clearenv)$"), "env", "family"),
    (R(r"^(localtime|localtime_r|gmtime|gmtime_r|mktime|timelocal|timegm|tzset|ctime|ctime_r|asctime|strftime|__strftime_l|strftime_l|wcsftime|__wcsftime_l|wcsftime_l|getdate|getdate_r|strptime|strptime_l|stime|settimeofday)$"), "tz", "family"),
    (R(r"^(dlopen|dlmopen|dlsym|dlvsym|dlclose|dlerror|dladdr|dladdr1|dlinfo|dl_iterate_phdr|backtrace|backtrace_symbols)$"), "dl", "family"),
    # DES with one static expanded key (musl's src/crypt/encrypt.c; glibc's manual: AS-Unsafe
    # corrupt): a handler interrupting setkey/encrypt sees a half-written key.
    (R(r"^(encrypt|setkey)$"), "corrupt", "family"),
    (R(r"^(pthread_create|thrd_create|pthread_join|thrd_join|pthread_tryjoin_np|pthread_timedjoin_np|pthread_clockjoin_np|pthread_detach|thrd_detach|pthread_exit|thrd_exit|pthread_testcancel|__pthread_unwind_next|pthread_getattr_np|pthread_getattr_default_np|pthread_setattr_default_np|pthread_setschedparam|pthread_getschedparam|pthread_setschedprio|getaddrinfo_a|gai_cancel|gai_error|gai_suspend|mq_notify|timer_create|timer_delete)$"), "thread", "family"),
    (R(r"^(pthread_cancel)$"), "dl", "family"),
    (R(r"^(exit|quick_exit|atexit|on_exit|at_quick_exit|__cxa_atexit|__cxa_at_quick_exit|__cxa_thread_atexit_impl|__cxa_finalize|pthread_atfork|__register_atfork)$"), "atexit", "family"),
    (R(r"^(daemon|forkpty|system|popen)$"), "fork", "family"),
    (R(r"^(pthread_(mutex|rwlock|cond|spin|barrier)_\w+|pthread_once|call_once|mtx_\w+|cnd_\w+|sem_\w+|lckpwdf|ulckpwdf|pthread_key_\w+|__pthread_key_create|tss_create|tss_delete|pthread_setspecific|tss_set|pthread_getspecific)$"), "lock", "family"),
    (R(r"^(opendir|fdopendir|closedir|readdir|readdir64|readdir_r|readdir64_r|rewinddir|seekdir|telldir|scandir|scandir64|scandirat|scandirat64|ftw|ftw64|nftw|nftw64|fts\w*|glob|glob64|globfree|globfree64|getcwd|get_current_dir_name|realpath|canonicalize_file_name)$"), "dir", "family"),
    (R(r"^(getpw\w*|setpwent|endpwent|getgr\w*|setgrent|endgrent|initgroups|setgroups_nss|getsp\w*|setspent|endspent|getsg\w*|setsgent|endsgent|getaddrinfo|getnameinfo|gethost\w*|sethostent|endhostent|getserv\w*|setservent|endservent|getproto\w*|setprotoent|endprotoent|getnet\w*|setnetent|endnetent|getrpc\w*|setrpcent|endrpcent|getalias\w*|setaliasent|endaliasent|\w*netgrent\w*|innetgr|ether_hostton|ether_ntohost|ether_line|getlogin|getlogin_r|__getlogin_r_chk|cuserid|rcmd|rcmd_af|rexec|rexec_af|ruserok|ruserok_af|iruserok|iruserok_af|__ivaliduser|ruserpass|res_\w+|__res_\w+|__nss_\w+|__h_errno_location_unused|getusershell|setusershell|endusershell|getttyent|getttynam|setttyent|endttyent|ttyslot|getpw|openpty|grantpt|ptsname)$"), "nss", "family"),
    (R(r"^(setlocale|newlocale|__newlocale|duplocale|__duplocale|freelocale|__freelocale|localeconv|strcoll_l|__strcoll_l|strxfrm_l|__strxfrm_l|wcscoll_l|__wcscoll_l|wcsxfrm_l|__wcsxfrm_l|strfmon|strfmon_l|__strfmon_l)$"), "locale", "family"),
    (R(r"^((__)?(d|dc|n|dn|dcn)?gettext|textdomain|bindtextdomain|bind_textdomain_codeset|catopen|catclose|iconv_open|iconv_close|strerror\w*|__xpg_strerror_r|strsignal|psignal|psiginfo|perror|herror|hstrerror|gai_strerror|c8rtomb|c16rtomb|c32rtomb|mbrtoc8|mbrtoc16|mbrtoc32)$"), "i18n", "family"),
    (R(r"^(__)?(mblen|mbrlen|mbrtowc|mbsnrtowcs|mbsrtowcs|mbstowcs|mbtowc|btowc|wctob|wcrtomb|wcsnrtombs|wcsrtombs|wcstombs|wctomb)(_chk)?$"), "i18n", "family"),
    (R(r"^(rand|random|srand|srandom|initstate|setstate|drand48|erand48|lrand48|nrand48|mrand48|jrand48|srand48|seed48|lcong48)$"), "random", "family"),
    (R(r"^(__|_IO_)?(v)?(s|sn)printf(_chk)?$"), "format", "family"),
    (R(r"^(_IO_\w+|__(w)?(overflow|underflow|uflow)|open_memstream|open_wmemstream|flockfile|ftrylockfile|funlockfile|_flushlbf|__f(bufsize|lbf|pending|purge|readable|reading|setlocking|writable|writing))$"), "stdio", "family"),
    (R(r"^(__)?(v)?(f|s|sn|as|d|obstack_)?printf(_chk)?$"), "stdio", "family"),
    (R(r"^(__)?(v)?(f|s)?wprintf(_chk)?$"), "stdio", "family"),
    (R(r"^(__isoc99_)?(v)?(f|s)?w?scanf$"), "stdio", "family"),
    (R(r"^f(open|open64|close|closeall|dopen|reopen|reopen64|memopen|opencookie|flush|flush_unlocked|read|read_unlocked|write|write_unlocked|gets|gets_unlocked|puts|puts_unlocked|getc|getc_unlocked|putc|putc_unlocked|getwc|getwc_unlocked|putwc|putwc_unlocked|getws|getws_unlocked|putws|putws_unlocked|seek|seeko|seeko64|tell|tello|tello64|getpos|getpos64|setpos|setpos64|eof|eof_unlocked|error|error_unlocked|ileno|ileno_unlocked|purge|wide)$"), "stdio", "family"),
    (R(r"^(getc|putc|getchar|putchar|getwc|putwc|getwchar|putwchar|getw|putw|gets|puts|getline|getdelim|__getdelim|ungetc|ungetwc|setvbuf|setbuf|setbuffer|setlinebuf|clearerr|tmpfile|tmpfile64|pclose)(_unlocked)?$"), "stdio", "family"),
    (R(r"^(ether_aton|ether_ntoa|inet_nsap_ntoa|l64a)$"), "corrupt", "family"),
    (R(r"^(setresuid|setresgid|seteuid|setegid|setreuid|setregid|setgroups)$"), "lock", "family"),
    (R(r"^(updwtmpx|updwtmp|login|logout|logwtmp|\w*utx?ent\w*|utmpname|utmpxname|getutmpx?)$"), "lock", "family"),

    # ---- pure functions
    (R(r"^(__)?(mem|str|wcs|wmem|stp|wcp)\w*$"), "pure", "pure"),  # string/memory (manual wins when it says unsafe)
    (R(r"^(bcmp|bcopy|bzero|__bzero|explicit_bzero|index|rindex|rawmemchr|__rawmemchr|swab|ffs|ffsl|ffsll|__memcmpeq)$"), "pure", "pure"),
    (R(r"^(__)?(is|to)w?\w*(_l)?$"), "pure", "pure"),  # ctype / wctype
    (R(r"^(_tolower|_toupper|isctype|__isctype|__ctype_\w+|wctype|wctype_l|__wctype_l|wctrans|wctrans_l|__wctrans_l|towctrans|towctrans_l|__towctrans_l|__towctrans|__iswctype|__iswctype_l|wcwidth|wcswidth|mbsinit)$"), "pure", "pure"),
    (R(r"^(__sched_cpucount|__errno_location|__h_errno_location|__libc_current_sigrtmax|__libc_current_sigrtmin|__libc_allocate_rtsig|__libc_sa_len|__cmsg_nxthdr|gnu_dev_\w+|gnu_get_libc_\w+|__x86_get_cpuid_feature_leaf|sched_getcpu|getcpu)$"), "pure", "pure"),
    (R(r"^(__)?(frexp|ldexp|modf|scalbn|copysign|finite|isinf|isnan|signbit)[fl]?(128)?$"), "pure", "pure"),
    (R(r"^(abs|labs|llabs|imaxabs|div|ldiv|lldiv|imaxdiv|htonl|htons|ntohl|ntohs)$"), "pure", "pure"),
    (R(r"^(__)?(a|str|wcs)to(\w+)$"), "pure", "pure"),  # ato*, strto*, wcsto*, *_l, *_internal
    (R(r"^(strfrom\w+|a64l|ecvt_r|fcvt_r|qecvt_r|qfcvt_r|gcvt|qgcvt|bsearch|lfind|lsearch|tfind|twalk|twalk_r|insque|remque|hsearch_r|basename|dirname|getsubopt|ctermid|glob_pattern_p|envz_\w+|argz_count|argz_next|argz_extract|argz_stringify|__argz_\w+|inet_addr|inet_aton|inet_lnaof|inet_makeaddr|inet_netof|inet_network|inet_ntop|inet_pton|inet6_\w+|setjmp|_setjmp|__sigsetjmp|sigsetjmp|getcontext|makecontext|sigandset|sigorset|sigisemptyset|siggetmask|nl_langinfo|parse_printf_format|printf_size_info|sigabbrev_np|sigdescr_np|getauxval|__getauxval|confstr|__confstr_chk|getpagesize|__getpagesize)$"), "pure", "pure"),
    # ---- system-call wrappers
    (R(r"^(accept4|dup3|pipe2|ppoll|epoll_\w+|eventfd\w*|inotify_\w+|fanotify_\w+|signalfd|timerfd_\w+|splice|tee|vmsplice|sendfile\w*|readahead|sync_file_range|syncfs|fallocate\w*|posix_fadvise\w*|posix_madvise|mincore|madvise|process_madvise|mlock\w*|munlock\w*|mmap\w*|munmap|mremap|msync|mprotect|remap_file_pages|pkey_\w+|memfd_create|copy_file_range|close_range|closefrom|prctl|arch_prctl|__arch_prctl|personality|capget|capset|chroot|pivot_root|mount|umount|umount2|move_mount|open_tree|fsopen|fsmount|fsconfig|fspick|mount_setattr|unshare|setns|swapon|swapoff|reboot|acct|init_module|delete_module|quotactl|klogctl|ptrace|iopl|ioperm|modify_ldt|vhangup|sysinfo|f?statfs\w*|f?statvfs\w*|statx|name_to_handle_at|open_by_handle_at|pidfd_\w+|process_\w+|\w*xattr|flock|lockf\w*|chflags|fchflags|lchmod|lchown|futimesat|lutimes|futimes|eaccess|euidaccess|group_member|getresuid|getresgid|setfsuid|setfsgid|getdtablesize|getdomainname|__getdomainname_chk|setdomainname|gethostname|__gethostname_chk|sethostname|clock_\w+|ntp_\w+|adjtimex|__adjtimex|adjtime|waitid|wait3|wait4|sigtimedwait|sigwaitinfo|sigwait|sighold|sigrelse|sigignore|siginterrupt|sigreturn|ualarm|usleep|nanosleep|__nanosleep|clone|__clone|gettid|getrandom|getentropy|getloadavg|get_nprocs\w*|get_phys_pages|get_avphys_pages|getrlimit\w*|setrlimit\w*|prlimit\w*|getrusage|getpriority|setpriority|getitimer|setitimer|getsid|getpgid|__getpgid|setpgrp|killpg|tgkill|gsignal|isatty|isfdtype|ioctl|truncate\w*|remove|sync|brk|sbrk|__sbrk|syscall|ulimit|stty|gtty|tcgetsid|cfmakeraw|cfsetspeed|sched_\w+|__sched_\w+|recvmmsg|sendmmsg|renameat2|shm(at|dt|ctl|get)|msg(ctl|get|rcv|snd)|sem(ctl|get|op|timedop)|ftok|mq_(open|close|getattr|setattr|send|receive|timedsend|timedreceive|unlink)|getpt|posix_openpt|revoke|setlogin|mkstemp\w*|mkostemp\w*|mkdtemp|mktemp|tmpnam_r|clock|profil|__profile_frequency|moncontrol|gettimeofday|__gettimeofday|getpid|getppid|__pread\w*|__pwrite\w*|pread\w*|pwrite\w*|preadv\w*|pwritev\w*|readv|writev)$"), "syscall", "syscall"),
]

# Judgements that override a documented glibc-manual verdict (or add one).
# name -> (glibc verdict, reason, why)
OVERRIDES = {
    "execl": ("safe", "exec", "glibc 2.36 builds the argv array on the stack, no malloc"),
    "execle": ("safe", "exec", "glibc 2.36 builds the argv array on the stack, no malloc"),
    "execlp": ("safe", "exec", "argv built on the stack; PATH search on the stack since glibc 2.24"),
    "execvp": ("safe", "exec", "PATH search on the stack (no malloc) since glibc 2.24"),
    "execvpe": ("safe", "exec", "PATH search on the stack (no malloc) since glibc 2.24"),
    "longjmp": ("safe", "-", "safe when leaving a signal handler, which is what POSIX allows"),
    "siglongjmp": ("safe", "-", "safe when leaving a signal handler, which is what POSIX allows"),
    "sleep": ("safe", "-", "a plain nanosleep in glibc 2.36 (the manual's sig:SIGCHLD note is about an older Linux sleep)"),
    "readv": ("safe", "syscall", "a direct system call on Linux (the manual's heap note is about the generic emulation)"),
    "writev": ("safe", "syscall", "a direct system call on Linux (the manual's heap note is about the generic emulation)"),
    "getenv": ("unsafe", "env", "reads environ, which setenv/putenv may be reallocating"),
    "secure_getenv": ("unsafe", "env", "reads environ, which setenv/putenv may be reallocating"),
    "qsort": ("unsafe", "heap", "glibc 2.36 qsort mallocs a merge buffer for large arrays"),
    "obstack_free": ("unsafe", "heap", "calls the obstack's chunk-free function, normally free()"),
    "thrd_create": ("unsafe", "thread", "same code path as pthread_create (stack cache lock, mmap)"),
    "thrd_join": ("unsafe", "thread", "same code path as pthread_join (stack cache lock)"),
    "thrd_detach": ("unsafe", "thread", "same code path as pthread_detach (stack cache lock)"),
    "thrd_exit": ("unsafe", "thread", "same code path as pthread_exit (dlopens the unwinder)"),
    "mtx_lock": ("unsafe", "lock", "a pthread mutex: deadlocks if the interrupted code holds it"),
    "mtx_timedlock": ("unsafe", "lock", "a pthread mutex: deadlocks if the interrupted code holds it"),
    "mtx_trylock": ("unsafe", "lock", "a pthread mutex; consistent with pthread_mutex_trylock"),
    "mtx_unlock": ("unsafe", "lock", "a pthread mutex; consistent with pthread_mutex_unlock"),
    "cnd_wait": ("unsafe", "lock", "a pthread condition variable"),
    "cnd_timedwait": ("unsafe", "lock", "a pthread condition variable"),
    "cnd_signal": ("unsafe", "lock", "a pthread condition variable"),
    "cnd_broadcast": ("unsafe", "lock", "a pthread condition variable"),
    "call_once": ("unsafe", "lock", "pthread_once: waits for a concurrent initialiser"),
    "tss_set": ("unsafe", "heap", "calls pthread_setspecific, which the manual marks AS-Unsafe heap"),
    "pthread_cancel": ("unsafe", "dl", "dlopens libgcc_s on first use (glibc >= 2.34)"),
    "vfork": ("unsafe", "fork", None),
}

# Must hold (asserted while generating).
MUST_SAFE = ["memcpy", "memmove", "memset", "memcmp", "bcmp", "strlen", "__memcpy_chk",
             "__memset_chk", "__memmove_chk", "__stack_chk_fail", "__errno_location"]
MUST_UNSAFE = [  # class unsafe, glibc unsafe
    # atexit and pthread_atfork live in libc_nonshared.a; their libc.so.6 entry points
    # are __cxa_atexit and __register_atfork.
    "__cxa_atexit", "dlerror", "gettext", "malloc", "__register_atfork", "random", "sem_open",
    "fopen", "fclose", "syslog", "localtime", "tzset", "calloc", "realloc", "free",
    "printf", "fprintf", "puts", "fputs", "fwrite", "fflush", "__printf_chk",
    "__fprintf_chk", "openlog", "closelog", "__syslog_chk", "getenv", "setenv",
    "putenv", "unsetenv", "opendir", "readdir", "closedir", "localtime_r", "gmtime",
    "mktime", "strftime", "dlopen", "dlsym", "dlclose", "pthread_mutex_lock",
    "pthread_mutex_unlock", "pthread_mutex_trylock", "pthread_create", "getpwnam",
    "getpwuid", "getgrnam", "getaddrinfo", "qsort",
]

REASON_VOCAB = {"heap", "lock", "stdio", "format", "env", "tz", "dl", "nss", "locale", "i18n",
                "atexit", "fork", "exec", "signal", "thread", "random", "syslog", "dir",
                "corrupt", "pure", "syscall", "undocumented", "versioned", "loader", "-"}

# glibc manual AS-Unsafe notes -> reason word, in order of preference.
MANUAL_REASONS = [("i18n", "i18n"), ("dlopen", "dl"), ("plugin", "dl"), ("heap", "heap"),
                  ("lock", "lock"), ("init", "lock"), ("timer", "signal"), ("sig", "signal"),
                  ("corrupt", "corrupt"), ("race", "corrupt"), ("term", "corrupt"),
                  ("const", "corrupt")]

SPECIAL_REASON = {"fork": "fork", "vfork": "fork", "exec": "exec", "exit": "atexit",
                  "sigaction": "signal", "jmp": "signal", "cancel": "thread", "init": "lock", "dlopen": "dl", "_fork": "-",
                  "_exit": "-", "sandbox": None, "fd": None, "atexit": "atexit",
                  "spawn": "exec", "thread": "thread"}

# Reason words for documented-AS-Safe functions that POSIX does not list and that
# touch shared state (so they stay interposed for the posix verdict).
REASON_HINTS = {"backtrace_symbols_fd": "dl", "catgets": "i18n", "iconv": "i18n",
                "pthread_setcanceltype": "thread"}


# The libcs whose export lists (data/reference/exports/<label>.tsv) make up the table, oldest
# first; musl last. The library a name lives in before glibc 2.34 is kept (libpthread, ...).
LIBCS = ["glibc-2.31", "glibc-2.36", "glibc-2.41", "glibc-2.43", "glibc-2.44", "musl-1.2.3", "musl-1.2.5"]
LIBC_SO = {"libc.so.6", "libc.so"}
# Side libraries whose names count: those whose functions moved into libc.so.6 (a name only
# they export and no libc.so.6 ever did is not a libc function here).
SIDE_LIBS = {"libpthread.so.0": "libpthread", "libdl.so.2": "libdl", "librt.so.1": "librt",
             "libutil.so.1": "libutil", "libanl.so.1": "libanl", "libresolv.so.2": "libresolv"}

# Names new since glibc 2.36 (or only in 2.31, or only in musl) whose hot-path class follows
# another name.
HOT_LIKE = {"free_sized": "free", "free_aligned_sized": "free"}

# musl's verdict where it differs from glibc's (musl 1.2.x source): name -> (verdict, reason, why).
# Where musl takes a lock of its own the verdict is unsafe like glibc's, and the source column
# says which lock (MUSL_LOCKS); where musl's implementation has no shared state it is safe.
MUSL_OVERRIDES = {
    "qsort": ("safe", "pure", "musl's qsort is an in-place smoothsort: no malloc, no lock"),
    "qsort_r": ("safe", "pure", "musl's qsort_r is an in-place smoothsort: no malloc, no lock"),
    "strerror": ("safe", "pure", "musl: a table lookup through the thread's locale, no lock, no malloc"),
    "strerror_l": ("safe", "pure", "musl: a table lookup, no lock, no malloc"),
    "strerror_r": ("safe", "pure", "musl: a table lookup copied to the caller's buffer"),
    "__xpg_strerror_r": ("safe", "pure", "musl: strerror_r"),
    "strsignal": ("safe", "pure", "musl: a table lookup through the thread's locale"),
    "gmtime_r": ("safe", "pure", "musl: __secs_to_tm only, no time-zone lock"),
    "timegm": ("safe", "pure", "musl: __tm_to_secs only, no time-zone lock"),
}
MUSL_LOCKS = [
    (R(r"^(malloc|calloc|realloc|free|aligned_alloc|posix_memalign|memalign|valloc|pvalloc|malloc_usable_size|reallocarray|strdup|strndup|wcsdup)$"), "heap", "musl: the malloc lock (mallocng)"),
    (R(r"^(atexit|__cxa_atexit|at_quick_exit|__cxa_finalize|exit|quick_exit)$"), "atexit", "musl: the atexit lock"),
    (R(r"^(dlerror|dlopen|dlsym|dlclose|dladdr|dlinfo|dl_iterate_phdr)$"), "dl", "musl: the loader lock / dlerror buffer lock"),
    (R(r"^(gettext|dgettext|dcgettext|ngettext|dngettext|dcngettext|bindtextdomain|bind_textdomain_codeset|textdomain)$"), "i18n", "musl: the gettext bindings lock and catalog loading (malloc)"),
    (R(r"^(random|srandom|initstate|setstate)$"), "random", "musl: the random() state lock"),
    (R(r"^(sem_open|sem_close)$"), "lock", "musl: the sem_open table lock"),
    (R(r"^(syslog|vsyslog|openlog|closelog|setlogmask|__syslog_chk|__vsyslog_chk)$"), "syslog", "musl: the syslog lock"),
    (R(r"^(tzset|localtime|localtime_r|mktime|timelocal|ctime|ctime_r|strftime|strftime_l|__strftime_l|wcsftime|getdate|strptime)$"), "tz", "musl: the time-zone lock (__tz_lock)"),
    (R(r"^(f\w+|_IO_\w+|printf|vprintf|puts|putchar|getchar|scanf|vscanf|getc|putc|getline|getdelim|perror|popen|pclose|tmpfile|setvbuf|setbuf|ungetc)$"), "stdio", "musl: the FILE lock / open-file list lock"),
]


# --------------------------------------------------------------------------
# Reading the reference data
# --------------------------------------------------------------------------


def read_tsv(path, header=True):
    rows = []
    with open(path, encoding="utf-8") as f:
        lines = [l.rstrip("\n") for l in f if l.strip() and not l.startswith("#")]
    if not header:
        return [l.split("\t") for l in lines]
    cols = lines[0].split("\t")
    for l in lines[1:]:
        rows.append(dict(zip(cols, l.split("\t"))))
    return rows


class Reference:
    def __init__(self, d):
        self.dir = d
        self.exports = read_tsv(os.path.join(d, "libc-exports.tsv"))
        self.annotations = {r["function"]: r for r in read_tsv(os.path.join(d, "glibc-as-annotations.tsv"))}
        self.variadic = {r["symbol"] for r in read_tsv(os.path.join(d, "variadic-exports.tsv"))}
        self.posix = {}  # name -> (since, removed)
        for name, since, removed in read_tsv(os.path.join(d, "posix-as-safe.txt"), header=False):
            self.posix[name] = (since, removed)
        self.issue8 = {}  # name -> (change, confidence)
        for row in read_tsv(os.path.join(d, "posix-as-safe-issue8-unverified.txt"), header=False):
            self.issue8[row[0]] = (row[1], row[2])
        self.exports_by = {}  # libc label -> {name: (version, library)}
        for label in LIBCS:
            path = os.path.join(d, "exports", label + ".tsv")
            self.exports_by[label] = {r["name"]: (r["version"], r["library"]) for r in read_tsv(path)}
        self.public = {}  # name -> default-version export row
        self.versions = defaultdict(set)
        for r in self.exports:
            if r["private"] == "yes" or r["version"] == "GLIBC_PRIVATE":
                continue
            if r["elf_type"] not in ("FUNC", "IFUNC"):
                continue
            self.versions[r["symbol"]].add(r["version"])
            if r["default_version"] == "yes":
                if r["symbol"] in self.public:
                    sys.exit("gen-symbols: two default versions for " + r["symbol"])
                self.public[r["symbol"]] = r
        g36 = {n for n, (_v, lib) in self.exports_by["glibc-2.36"].items() if lib == "libc.so.6"}
        if g36 != set(self.public):
            sys.exit("gen-symbols: exports/glibc-2.36.tsv and libc-exports.tsv disagree: %s"
                     % " ".join(sorted(g36 ^ set(self.public))[:20]))
        in_libc = {n for t in self.exports_by.values() for n, (_v, lib) in t.items() if lib in LIBC_SO}
        # Rows for the names other libcs export (glibc 2.31 with its side libraries, newer
        # glibc, musl): the same shape as libc-exports.tsv's, the manual's verdicts left to
        # classify() (through the base function).
        # Newest glibc first (its default version), musl last (no versions: '-').
        for label in sorted(LIBCS, key=lambda l: (l.startswith("musl-"), -LIBCS.index(l))):
            for n, (ver, lib) in self.exports_by[label].items():
                if n in self.public or n not in in_libc:
                    continue
                self.public[n] = {
                    "symbol": n, "version": ver, "default_version": "yes", "elf_type": "FUNC",
                    "private": "no", "base_function": "-", "posix_base": "-",
                    "effective_glibc_as_safe": "undocumented", "glibc_as_reasons": "-",
                    "effective_glibc_unsafe_on_linux": "-", "hot_path": "-", "synthetic": label,
                }
        for n, like in HOT_LIKE.items():
            if n in self.public and like in self.public:
                self.public[n]["hot_path"] = self.public[like]["hot_path"]

    def libcs(self, name):
        """Which libcs export `name`: 'glibc2.31(libpthread),glibc2.36-2.44,musl1.2.3'."""
        glibcs = [l for l in LIBCS if l.startswith("glibc-")]
        parts, run = [], []

        def flush():
            if run:
                lo, hi, lib = run[0][0], run[-1][0], run[0][1]
                v = lo if lo == hi else "%s-%s" % (lo, hi)
                parts.append("glibc" + v + ("(%s)" % SIDE_LIBS[lib] if lib in SIDE_LIBS else ""))
                run.clear()

        for l in glibcs:
            e = self.exports_by[l].get(name)
            ver = l.split("-", 1)[1]
            if e and run and run[-1][1] == e[1] and glibcs.index(l) == glibcs.index("glibc-" + run[-1][0]) + 1:
                run.append((ver, e[1]))
                continue
            flush()
            if e:
                run.append((ver, e[1]))
        flush()
        parts.extend(self.musl_ranges(name))
        return ",".join(parts)

    def musl_ranges(self, name):
        """The musl versions that export `name`, consecutive ones of LIBCS as one range:
        ['musl1.2.3-1.2.5'], ['musl1.2.5'], []."""
        musls = [l for l in LIBCS if l.startswith("musl-")]
        out, run = [], []
        for l in musls + [None]:
            if l is not None and name in self.exports_by[l]:
                run.append(l.split("-", 1)[1])
                continue
            if run:
                out.append("musl" + (run[0] if len(run) == 1 else "%s-%s" % (run[0], run[-1])))
                run = []
        return out

    def in_musl(self, name):
        return any(name in self.exports_by[l] for l in LIBCS if l.startswith("musl-"))

    def posix_2017(self, name):
        p = self.posix.get(name)
        return bool(p) and p[0] != "2024" and p[1] in ("-", "2024")

    def posix_2024(self, name):
        p = self.posix.get(name)
        return bool(p) and p[1] == "-"


# --------------------------------------------------------------------------
# Classification
# --------------------------------------------------------------------------


def base_of(ref, name):
    """(base name, how) for verdict inheritance, following alias chains."""
    how = None
    for _ in range(4):
        b, h = base_step(ref, name)
        if h is None:
            break
        name, how = b, how or h
    return name, how


def base_step(ref, name):
    if name in SAME_CODE:
        return SAME_CODE[name], "same code as"
    if name in WRAPPERS:
        return WRAPPERS[name], "wrapper of"
    if name in LIKE:
        return LIKE[name], "like"
    row = ref.public.get(name)
    if row and row["base_function"] != "-":
        return row["base_function"], "alias of"
    if row and row["posix_base"] != "-":
        return row["posix_base"], "alias of"
    known = lambda n: n in ref.public or n in ref.annotations or n in ref.posix
    m = re.match(r"^__isoc(?:23|99)_(\w+)$", name)
    if m and m.group(1) in ref.public:
        return m.group(1), "alias of"
    for pat in (r"^__(\w+)_chk$", r"^__(\w+)_l$", r"^(\w+)_l$", r"^__(\w+)_internal$", r"^__(\w+)$", r"^(\w+)64$"):
        m = re.match(pat, name)
        if m and known(m.group(1)) and m.group(1) != name:
            return m.group(1), "alias of"
    return name, None


def rule_for(*names):
    for n in names:
        for rx, reason, kind in RULES:
            if rx.match(n):
                return reason, kind
    return None, None


def manual_reason(reasons):
    """Most meaningful reason word among the Linux-relevant manual notes."""
    notes = []
    for r in reasons.split(","):
        r = r.strip()
        if not r or r == "-":
            continue
        if "/" in r:
            cond = r.rsplit("/", 1)[1]
            if cond in ("hurd", "bsd") or "!linux" in cond:
                continue
        notes.append(r)
    for key, word in MANUAL_REASONS:
        if any(n == key or n.startswith(key + ":") or n.startswith(key + "/") for n in notes):
            return word
    return "corrupt" if notes else None


def classify(ref, name):
    row = ref.public[name]
    base, how = base_of(ref, name)
    src = []
    judged = []          # assafe judgements made on this row
    if how:
        src.append("%s %s" % (how, base))

    # ---- POSIX verdict
    pname = base if how != "like" and (ref.posix.get(base) or not ref.posix.get(name)) else name
    reason_rule, kind = rule_for(base, name)
    pure = kind in ("pure", "syscall")
    if ref.posix_2024(pname):
        posix = "safe"
        tag = "POSIX.1-2017 list" if ref.posix_2017(pname) else "POSIX.1-2024 list"
        u = ref.issue8.get(pname)
        if u and u[0] == "removed":
            tag += " (Issue 8 removal unverified, %s confidence)" % u[1]
        src.append(tag)
        posix_src = "posix"
    elif pname in ref.posix:
        posix = "unsafe"
        since, removed = ref.posix[pname]
        src.append("POSIX.1-%s: removed from the list" % removed if removed == "2024"
                   else "POSIX.%s list only (removed %s)" % (since, removed))
        posix_src = "posix"
    elif ref.issue8.get(base, ("", ""))[0] == "added" and ref.issue8[base][1] in ("high", "medium") and pure:
        posix = "safe"
        src.append("POSIX.1-2024 addition (unverified, %s confidence; accepted for %s functions)"
                   % (ref.issue8[base][1], kind))
        posix_src = "assafe"
    else:
        posix = "unsafe"
        src.append("not on the POSIX list")
        posix_src = "posix"

    # ---- glibc verdict
    ann = ref.annotations.get(name) or ref.annotations.get(base)
    eff = row["effective_glibc_as_safe"]
    if ann:
        documented = True
        manual_unsafe = ann["as_unsafe_on_linux"] in ("yes", "conditional")
        manual_reasons = ann["reasons"]
        loc = ann["locations"].split(",")[0].strip()
        if manual_unsafe:
            src.append("glibc manual: AS-Unsafe %s (%s)" % (manual_reasons, loc))
        elif ann["as_safe"] == "no":
            src.append("glibc manual: AS-Unsafe only off Linux: %s (%s)" % (manual_reasons, loc))
        else:
            src.append("glibc manual: AS-Safe (%s)" % loc)
    elif eff != "undocumented":
        documented = True
        manual_unsafe = row["effective_glibc_unsafe_on_linux"] in ("yes", "conditional")
        manual_reasons = row["glibc_as_reasons"]
        src.append("glibc manual: AS-%s via %s" % ("Unsafe" if manual_unsafe else "Safe", base))
    else:
        documented = False
        manual_unsafe = False
        manual_reasons = "-"
        src.append("glibc manual: undocumented")

    if (row.get("synthetic") and ann and not manual_unsafe and not kind
            and re.match(r"(math|arith)\.texi", ann["locations"].strip())):
        # A libm function that musl's libc.so exports (glibc keeps them in libm.so.6, which
        # this table does not cover): pure arithmetic, as the manual's AS-Safe says.
        kind, reason_rule, pure = "pure", "pure", True
    glibc_src = "manual" if documented else "undocumented"
    glibc = "unsafe" if manual_unsafe else "safe"
    reason = None
    over = OVERRIDES.get(name) or (OVERRIDES.get(base) if how else None)
    if over:
        g, r, why = over
        if why:
            judged.append(why)
        if g != glibc or not documented:
            glibc_src = "assafe"
        glibc = g
        reason = r
    elif not documented and kind == "family":
        glibc = "unsafe"
        glibc_src = "assafe"
        judged.append("%s family" % reason_rule)
    elif not documented and pure:
        glibc_src = "assafe"
        judged.append("%s, not interposed" % ("pure function" if kind == "pure" else "system-call wrapper"))

    # ---- reason word
    if reason is None:
        if posix == "safe" and glibc == "safe":
            reason = reason_rule if (pure and posix_src == "assafe") else "-"
        elif glibc == "unsafe":
            if kind == "family":
                reason = reason_rule
            else:
                reason = manual_reason(manual_reasons) if documented else "undocumented"
        else:  # only POSIX calls it unsafe
            if pure:
                reason = reason_rule
            elif kind == "family":
                reason = reason_rule
            elif not documented:
                reason = "undocumented"
                judged.append("not documented: no known shared state")
            elif name in REASON_HINTS or base in REASON_HINTS:
                reason = REASON_HINTS.get(name) or REASON_HINTS[base]
            else:
                reason = None  # filled in below
    if reason is None and name.startswith("sig"):
        reason = "signal"

    # ---- class
    special = SPECIAL.get(name) or SPECIAL.get(base) if how in (None, "alias of", "same code as") else SPECIAL.get(name)
    interposed_verdict = posix == "unsafe" or glibc == "unsafe"
    if name in LOADER or LOADER_RE.match(name):
        cls, reason = "skip", "loader"
        judged.append("never interposed: " + LOADER.get(name, "dynamic-loader interface"))
    elif name in DISTINCT_VERSIONED and interposed_verdict and name not in PER_VERSION:
        cls = "skip"
        if reason in ("-", None):
            reason = "versioned"
        reason = "versioned"
        judged.append("never interposed: versions %s are distinct code, and an unversioned "
                      "interposer would send old binaries to the new implementation"
                      % "/".join(sorted(ref.versions[name])))
    elif special:
        cls = special
        if posix == "safe" and glibc == "safe":
            reason = "-" if posix_src == "posix" else kind
        elif pure and glibc == "safe":
            reason = kind
        else:
            reason = SPECIAL_REASON[special] or reason
    elif pure and not (glibc == "unsafe"):
        cls = "safe"
        if posix == "unsafe" or posix_src == "assafe":
            reason = kind
        if posix == "unsafe" and glibc_src != "assafe":
            judged.append("not interposed: %s" % ("pure function" if kind == "pure" else "system-call wrapper"))
    elif not interposed_verdict:
        cls = "safe"
    else:
        cls = "unsafe"
    if reason is None:
        reason = "undocumented"

    if judged:
        src.append("assafe: " + "; ".join(dict.fromkeys(judged)))
    source = "; ".join(src).replace("\t", " ")
    if cls == "sandbox":
        source = source.replace(", not interposed", "").replace("not interposed: ", "")
    source = init_and_version_source(name, cls, source)
    hot = "hot" if row["hot_path"] in HOT_PATHS else "-"
    musl = "-"
    if ref.in_musl(name):
        musl = glibc
        mo = MUSL_OVERRIDES.get(name)
        lock = next((why for rx, r, why in MUSL_LOCKS
                     if rx.match(name) and (r != "stdio" or reason == "stdio")), None)
        if mo:
            musl = mo[0]
            source += "; musl: " + mo[2]
        elif lock:
            musl = "unsafe"
            source += "; " + lock
    return {
        "name": name, "version": row["version"], "class": cls, "reason": reason,
        "posix": posix, "glibc": glibc, "hot": hot, "source": source,
        "musl": musl, "libcs": ref.libcs(name),
        "posix_src": posix_src, "glibc_src": glibc_src, "base": base,
    }


LIBC_COUNTS = []
SIDE_ONLY_231 = 0
SIDE_ONLY_231_INTERPOSED = 0


def init_and_version_source(name, cls, source):
    """The source text of an init-class row (interposed although its verdicts are safe: a fork
    child notes the objects it initialises itself) and of a PER_VERSION row (one stub per
    version)."""
    if cls == "init":
        source = source.replace(", not interposed", "").replace("not interposed: ", "")
        source += ("; interposed (class init) only so that a fork child notes the object it "
                   "initialises itself: locking it there cannot deadlock on a vanished thread")
    if name in PER_VERSION:
        source += ("; versions are distinct code: each version the libc defines gets its own "
                   "stub, whose real function is that same version (build.rs PER_VERSION)")
    return source


def build(ref):
    rows = [classify(ref, n) for n in sorted(ref.public)]
    listed = {r["name"] for r in rows}
    g36 = set(ref.exports_by["glibc-2.36"])
    global SIDE_ONLY_231, SIDE_ONLY_231_INTERPOSED
    side = {n for n, (_v, lib) in ref.exports_by["glibc-2.31"].items() if lib in SIDE_LIBS and n in listed}
    SIDE_ONLY_231 = len(side)
    SIDE_ONLY_231_INTERPOSED = sum(1 for r in rows if r["name"] in side and r["class"] not in ("safe", "skip"))
    LIBC_COUNTS.clear()
    for label in LIBCS:
        names = {n for n in ref.exports_by[label] if n in listed}
        LIBC_COUNTS.append((label, len(names), len(names - g36)))
    check_invariants(rows)
    return rows


def check_invariants(rows):
    by = {r["name"]: r for r in rows}
    errs = []
    for r in rows:
        if r["reason"] not in REASON_VOCAB:
            errs.append("%s: reason %r not in vocabulary" % (r["name"], r["reason"]))
        if r["posix"] == "safe" and r["glibc"] == "safe" and r["class"] in ("unsafe", "skip"):
            errs.append("%s: safe under both verdicts but class %s" % (r["name"], r["class"]))
        if r["class"] == "safe" and r["glibc"] == "unsafe":
            errs.append("%s: class safe but glibc unsafe" % r["name"])
        if r["class"] == "safe" and r["musl"] == "unsafe":
            errs.append("%s: class safe but musl unsafe (a musl build would not interpose it)" % r["name"])
    for n in MUST_SAFE:
        if n in by and by[n]["class"] != "safe":
            errs.append("%s must be class safe, is %s" % (n, by[n]["class"]))
    for n in MUST_UNSAFE:
        if n not in by:
            errs.append("%s missing" % n)
        elif by[n]["class"] not in ("unsafe", "dlopen", "atexit", "thread") or by[n]["glibc"] != "unsafe":
            errs.append("%s must be class unsafe (or dlopen, atexit, thread)/glibc unsafe, is %s/%s" % (n, by[n]["class"], by[n]["glibc"]))
    if errs:
        sys.exit("gen-symbols: invariant violated:\n  " + "\n  ".join(errs))


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------

CLASS_DOC = [
    ("safe", "not interposed: no stub, no cost. POSIX- and glibc-safe functions, plus pure functions (string, memory, ctype, math, parsing of caller-owned data) and thin system-call wrappers even when POSIX does not list them (the posix column then still says unsafe)."),
    ("unsafe", "interposed with a jump stub; reported in an unsafe context when the active verdict (posix or glibc column) says unsafe."),
    ("fork", "fork and its aliases: interposed (the library tracks fork children). POSIX.1-2024 removed fork from the list; glibc runs atfork handlers."),
    ("_fork", "_Fork: interposed, async-signal-safe (POSIX.1-2024)."),
    ("vfork", "vfork: interposed (the library tracks vfork children)."),
    ("exec", "the exec family: interposed (an exec ends the unsafe context)."),
    ("exit", "exit: interposed; runs atexit handlers and flushes stdio, so unsafe."),
    ("_exit", "_exit/_Exit: interposed (ends the context), safe."),
    ("sigaction", "sigaction and the signal() family: interposed (the library wraps handlers)."),
    ("jmp", "longjmp family: interposed (leaving a handler ends the context); safe when leaving a handler."),
    ("cancel", "pthread_setcanceltype: interposed (asynchronous cancellation is tracked)."),
    ("init", "pthread_mutex_init, pthread_rwlock_init, pthread_cond_init, sem_init, mtx_init: interposed (a fork child notes the locks it initialises itself: locking them cannot deadlock on a vanished thread)."),
    ("dlopen", "dlopen/dlmopen/dlclose: interposed and unsafe (the loader lock); the library also refreshes its module table after them, for stacks."),
    ("sandbox", "prctl, syscall, chroot, unshare, setns and the setuid/setgid family: interposed; before the real call the library opens its log file and notes a seccomp filter (the log may be unreachable afterwards); verdicts as the columns say."),
    ("fd", "pipe, socket, open, dup and the other fd-making calls: interposed; the library notes the caller of each one that makes an fd without close-on-exec (the fd-leak finding names it); verdicts as the columns say."),
    ("atexit", "__cxa_atexit, atexit, on_exit: interposed (the library notes the exit handlers the program's own code registers: exit-in-child names those a fork child's exit() runs again); unsafe."),
    ("spawn", "posix_spawn, posix_spawnp: interposed (each version the libc defines has its own stub); before the real call the library checks the fds the spawned program inherits without close-on-exec (fd-leak), as at an exec; verdicts as the columns say."),
    ("thread", "pthread_create, thrd_create: interposed; the first one arms the library's fork sentinel (a MADV_WIPEONFORK page: a fork that bypasses fork() is noticed in the child), which a single-threaded process never needs; unsafe."),
    ("skip", "not interposed although not safe; reason versioned (several versions are distinct code: an unversioned interposer would send old binaries to the new implementation) or loader (startup/loader/profiling internals that must never be wrapped)."),
]

REASON_DOC = """\
# reason (one word):
#   -            on the POSIX list and safe
#   pure         touches no shared state; syscall: thin system-call wrapper
#   heap         malloc family (malloc, free, strdup, ..., and glibc "heap")
#   stdio        FILE streams, printf/scanf families and their _IO_*, __*_chk, *64 twins
#   format       sprintf/snprintf/vsprintf/vsnprintf (and _chk twins): no stream; they may
#                allocate and read the locale
#   lock         libc or pthread locks (pthread_mutex_*, rwlock, cond, sem_*, once, keys;
#                glibc "lock" and "init")
#   thread       thread creation/join/exit/cancel; dl: dlopen/dlsym/... or the
#                glibc "dlopen"/"plugin" notes (pthread_cancel dlopens libgcc_s)
#   nss          name-service lookups (passwd, group, hosts, services, resolver, ...)
#   env          environ (getenv, setenv, ...); tz: time zone (localtime, tzset, strftime, ...)
#   locale       setlocale/newlocale/...; i18n: gettext, strerror, iconv, glibc "i18n"
#   atexit       atexit/on_exit/__cxa_atexit/pthread_atfork handler lists
#   fork         creates a process through fork (runs atfork handlers); exec: exec family
#   signal       signal disposition / glibc "sig:" and "timer" notes
#   random       random/rand/drand48 shared state; syslog: syslog/openlog/closelog
#   dir          DIR streams, scandir, ftw, fts, glob, getcwd
#   corrupt      glibc "corrupt" or "race" (static buffers, unlocked shared data)
#   undocumented not POSIX-listed and the glibc manual is silent: glibc verdict safe
#   versioned    see class skip; loader: see class skip
"""


# The columns of symbols.txt, in order, with their documentation (written once, into the
# header; every reader takes the names from there).
COLUMNS = (
    ("name", ["the symbol"]),
    ("version", ["its default version node in libc (name@@version)"]),
    ("class", ["how the library handles it (below)"]),
    ("reason", ["one word: why it is unsafe, or why it is safe without being POSIX-listed"]),
    ("posix", ["safe|unsafe: POSIX.1-2024 async-signal-safe list (XSH 2.4.3), after mapping",
               "aliases (__printf_chk -> printf, __isoc99_scanf -> scanf, _IO_puts -> puts,",
               "fopen64 -> fopen, ...) to their base function. 'unsafe' = not on the list.",
               "fork is unsafe (removed in 2024), _Fork safe. Unverified Issue 8 additions",
               "(medium/high confidence: accept4, dup3, pipe2, ppoll, memmem, ...) count as",
               "safe only for pure/syscall functions; unverified removals are not applied."]),
    ("glibc", ["safe|unsafe: the glibc 2.36 manual's AS-Safe/AS-Unsafe note as it applies on",
               "Linux, overridden by assafe's judgement where the manual is silent or wrong:",
               "silent + member of a family with shared state (heap, stdio, lock, nss, env,",
               "tz, dl, atexit, thread, ...) -> unsafe; silent + pure/syscall -> safe;",
               "silent otherwise -> safe with reason 'undocumented' (posix still unsafe)."]),
    ("musl", ["safe|unsafe: musl 1.2's own verdict (what a build for musl reports), or '-' when",
              "musl does not export the name: the glibc verdict unless musl's implementation",
              "differs (musl's own locks -- malloc, stdio, atexit, dlerror, gettext, random,",
              "sem_open, syslog, time zone -- keep those unsafe; see the musl notes below)"]),
    ("hot", ["'hot' if called on a per-call hot path (malloc, pthread sync, errno/ctype",
             "accessors): the stub must stay cheap. Otherwise '-'."]),
    ("libcs", ["which libcs export it (data/reference/exports): glibc versions as ranges of",
               "the versions read (2.31 2.36 2.41 2.43 2.44), with the library when it is not",
               "libc.so.6 (glibc2.31(libpthread)), and the musl versions (musl1.2.3-1.2.5)"]),
    ("source", ["where the verdicts come from: POSIX list, glibc manual (file:line), and",
                "'assafe:' judgements"]),
)
COLUMN_NAMES = tuple(c for c, _ in COLUMNS)


def header(rows, ref):
    cls = Counter(r["class"] for r in rows)
    pairs = Counter((r["posix"], r["glibc"]) for r in rows)
    psrc = Counter(r["posix_src"] for r in rows)
    gsrc = Counter(r["glibc_src"] for r in rows)
    out = []
    w = out.append
    w("# symbols.txt -- every public function that an x86_64 Linux libc exports (glibc 2.31,")
    w("# 2.36, 2.41, 2.43, 2.44 with the pre-2.34 libpthread/libdl/librt/libutil/libanl, and")
    w("# musl 1.2.3 and 1.2.5), keyed by name, with its async-signal-safety verdicts and how")
    w("# assafe handles it. build.rs interposes the rows the target libc exports")
    w("# (docs/symbols.md).")
    w("#")
    w("# GENERATED by scripts/gen-symbols.py from the reference data in data/reference")
    w("# (libc-exports.tsv, exports/*.tsv, glibc-as-annotations.tsv, posix-as-safe*.txt);")
    w("# do not edit.")
    w("# Regenerate: python3 scripts/gen-symbols.py   Check: python3 scripts/gen-symbols.py --check --check-libc")
    w("#")
    w("# One row per exported name (default version only; GLIBC_PRIVATE names, data objects")
    w("# and names exported only as compatibility versions are not listed), sorted by name.")
    w("# Verdicts were judged for glibc 2.36 (its manual); names of the other libcs inherit")
    w("# them through their base function (__isoc23_sscanf -> sscanf) or the family rules.")
    w("# Columns, tab-separated (the readers -- build/symbols_txt.rs for build.rs and the tests,")
    w("# read_symbols_file here -- take the column names from this list):")
    for name, doc in COLUMNS:
        first = True
        for line in doc:
            w("#   %-9s%s" % (name if first else "", line))
            first = False
    w("#")
    w("# class:")
    for c, doc in CLASS_DOC:
        first = True
        for line in wrap(doc, 78):
            w("#   %-10s%s" % (c if first else "", line))
            first = False
    w("# Every class other than safe and skip is interposed.")
    w("#")
    out.extend(REASON_DOC.rstrip("\n").split("\n"))
    w("#")
    w("# Judgements that replace the glibc manual's verdict (all judgements are marked")
    w("# 'assafe:' in the source column; undocumented functions get family judgements):")
    for n in sorted(OVERRIDES):
        g, r, why = OVERRIDES[n]
        if why and n in ref.public:
            w("#   %-14s glibc %-6s %s" % (n, g, why))
    w("#   Kept as the manual says although POSIX lists them: setuid/setgid (glibc broadcasts")
    w("#   setxid to all threads with signals), abort (corrupt), aio_suspend (lock).")
    w("#")
    w("# Musl's survey of libc-internal locks that break a multi-threaded fork child is covered")
    w("# by unsafe rows: __cxa_atexit and __register_atfork (atexit and pthread_atfork are not in")
    w("# libc.so.6; libc_nonshared.a turns them into these calls), dlerror, gettext, malloc,")
    w("# random, sem_open, fopen/fclose (open-file list), syslog, localtime/tzset.")
    w("# Names exported with several versions that are distinct code are class skip when")
    w("# unsafe (quick_exit, pthread_cond_destroy, timer_create/delete, glob, realpath...), but")
    w("# for the PER_VERSION names (pthread_cond_{init,wait,timedwait,signal,broadcast},")
    w("# posix_spawn, posix_spawnp): one stub per version, each forwarding to that version.")
    w("#")
    w("# Counts (%d names):" % len(rows))
    w("#   class: " + ", ".join("%s %d" % (c, cls[c]) for c, _ in CLASS_DOC if cls[c]))
    w("#   posix/glibc: " + ", ".join("%s/%s %d" % (p, g, pairs[(p, g)])
                                       for p, g in sorted(pairs)))
    w("#   posix verdict from: POSIX list (listed or absent) %d, assafe judgement %d" % (psrc["posix"], psrc["assafe"]))
    w("#   glibc verdict from: glibc manual %d, assafe judgement %d, undocumented (default safe) %d"
      % (gsrc["manual"], gsrc["assafe"], gsrc["undocumented"]))
    w("#")
    w("# " + "\t".join(COLUMN_NAMES))
    return out


def wrap(text, width):
    lines, cur = [], ""
    for word in text.split():
        if cur and len(cur) + 1 + len(word) > width - 14:
            lines.append(cur)
            cur = word
        else:
            cur = (cur + " " + word).strip()
    if cur:
        lines.append(cur)
    return lines


def render_symbols(rows, ref):
    out = header(rows, ref)
    for r in rows:
        out.append("\t".join(r[k] for k in COLUMN_NAMES))
    return "\n".join(out) + "\n"


def render_doc(rows):
    cls = Counter(r["class"] for r in rows)
    pairs = Counter((r["posix"], r["glibc"]) for r in rows)
    psrc = Counter(r["posix_src"] for r in rows)
    gsrc = Counter(r["glibc_src"] for r in rows)
    reasons = Counter(r["reason"] for r in rows if r["class"] not in ("safe",))
    o = []
    w = o.append
    w("# Symbol table")
    w("")
    w("<!-- generated by scripts/gen-symbols.py; do not edit -->")
    w("")
    w("[`symbols.txt`](../symbols.txt) lists every public function that an x86_64 Linux libc")
    w("exports -- glibc 2.31, 2.36, 2.41, 2.43 and 2.44 (with libpthread, libdl, librt, libutil")
    w("and libanl before 2.34) and musl 1.2.3 and 1.2.5 -- %d names keyed by name, with two" % len(rows))
    w("async-signal-safety verdicts, musl's own verdict, the libcs that export it and the way the")
    w("library handles it. Its header comment documents the columns, classes and reasons.")
    w("")
    w("## Libcs")
    w("")
    w("| libc | functions exported | in symbols.txt, new vs glibc 2.36 |")
    w("|---|---:|---:|")
    for label, n, new in LIBC_COUNTS:
        w("| %s | %d | %d |" % (label, n, new))
    w("")
    w("## Classes")
    w("")
    w("| class | names | meaning |")
    w("|---|---:|---|")
    for c, doc in CLASS_DOC:
        w("| `%s` | %d | %s |" % (c, cls[c], doc))
    w("")
    w("## Verdicts")
    w("")
    w("| posix | glibc | names |")
    w("|---|---|---:|")
    for p, g in sorted(pairs):
        w("| %s | %s | %d |" % (p, g, pairs[(p, g)]))
    w("")
    w("## Where the verdicts come from")
    w("")
    w("| verdict | source | names |")
    w("|---|---|---:|")
    w("| posix | POSIX.1-2024 list (XSH 2.4.3; aliases mapped to their base function) | %d |" % psrc["posix"])
    w("| posix | assafe judgement: unverified Issue 8 addition of a pure/syscall function | %d |" % psrc["assafe"])
    w("| glibc | glibc 2.36 manual `@safety` note (AS-Unsafe on Linux or AS-Safe) | %d |" % gsrc["manual"])
    w("| glibc | assafe judgement (manual silent or overridden; see `symbols.txt` header) | %d |" % gsrc["assafe"])
    w("| glibc | manual silent and no family rule: safe (POSIX-listed ones keep reason `-`) | %d |" % gsrc["undocumented"])
    w("")
    w("Reference data: `libc-exports.tsv`, `glibc-as-annotations.tsv`, `posix-as-safe.txt`,")
    w("`posix-as-safe-issue8-unverified.txt` (see its README). `--check-libc` additionally parses")
    w("the installed libc's `.dynsym` and version tables and fails if a public function is missing.")
    w("")
    w("## Columns")
    w("")
    for name, doc in COLUMNS:
        w("- `%s`: %s" % (name, " ".join(d.strip() for d in doc)))
    w("")
    w("## Which rows a build interposes: the export filter")
    w("")
    w("`symbols.txt` is keyed by name over every libc; a build interposes only what *its* libc")
    w("exports. `build.rs` reads that libc's ELF dynamic symbol table and version definitions")
    w("(`build/libc_exports.rs`, no dependency) and generates a stub for each row of an interposed")
    w("class that the libc's `libc.so.6` (musl: `libc.so`) itself exports, at the default version")
    w("that libc gives it. A name the libc lacks gets no stub: a stub would be a function that weak")
    w("references and `dlsym` probes find although the libc has none (`arc4random` on glibc 2.31,")
    w("`__isoc23_sscanf` before 2.38). The libc is, in order:")
    w("")
    w("1. `ASSAFE_LIBC=/path/to/libc.so.6` (or a musl `libc.so`) at build time;")
    w("2. for `target_env = \"gnu\"`, the `libc.so.6` the C compiler links against")
    w("   (`$CC -print-file-name=libc.so.6`), else `/lib/x86_64-linux-gnu/libc.so.6`, `/lib64/libc.so.6`;")
    w("3. for `target_env = \"musl\"`, musl's `libc.so` (`/usr/lib/x86_64-linux-musl/libc.so`,")
    w("   `/lib/ld-musl-x86_64.so.1`, ...);")
    w("4. for a cross build whose libc is not found (aarch64), the versions of")
    w("   `data/reference/libc-exports-<arch>.tsv`.")
    w("")
    w("On musl the `musl` column's verdict replaces the `glibc` one. The generated table records")
    w("the libc (`BUILD_LIBC`, e.g. `glibc 2.31`, from its banner), its path and a fingerprint (FNV-1a")
    w("over the names of its version definitions; musl: over its number of dynamic symbols), and the")
    w("sorted list of names this build knows.")
    w("")
    w("To build for another libc (a distribution's own, an older one in a chroot):")
    w("")
    w("    ASSAFE_LIBC=/srv/chroot/bullseye/lib/x86_64-linux-gnu/libc.so.6 cargo build --release -p assafe")
    w("")
    w("`scripts/libc-matrix` builds one library per libc of the test matrix this way")
    w("(`target/libc-matrix/libassafe-<libc>.so`).")
    w("")
    w("### glibc before 2.34: libpthread, libdl, librt, libutil, libanl")
    w("")
    w("Before 2.34 many functions live in side libraries that a program may or may not load")
    w("(`pthread_create`, `pthread_key_create`, `pthread_once`, `sem_*`, `dlopen`/`dlsym`, `timer_*`,")
    w("`aio_*`, `openpty`...). An ordinary (unversioned) stub for such a name would exist in every")
    w("process, also in one that never loaded libpthread -- and that is exactly what libgcc_s,")
    w("libstdc++ and libdl test with a weak reference (`__pthread_key_create`, `pthread_once`: \"is")
    w("libpthread loaded?\"), and what `dlsym` probes find. So a build for such a glibc exports these")
    w("stubs only as hidden versioned definitions, `name@VERSION` with the side library's version")
    w("(`build.rs` `side_stubs`, a version script whose first node names no symbol). glibc's loader")
    w("(`check_match`, elf/dl-lookup.c) binds a versioned reference -- `pthread_create@GLIBC_2.2.5`,")
    w("what every object linked against libpthread has -- to such a definition, and never an")
    w("unversioned one (a weak probe of an object not linked against libpthread, `dlsym`): those")
    w("see what they see without the library. The pthread functions glibc 2.31's libc.so.6 itself")
    w("forwards (`pthread_mutex_lock`/`unlock`, `pthread_cond_*`, `pthread_setcanceltype`,")
    w("`pthread_exit`...) keep their ordinary stubs. The real function comes from the side library")
    w("loaded at start (the lazy resolver's snapshot holds it), or, loaded later by a `dlopen`, from")
    w("libpthread or librt recorded after that `dlopen` returns (both are `-z nodelete`), else from a")
    w("lookup in normal context; in a fork child or handler a function not found that way fails with")
    w("`ENOSYS` and is counted (`src/libc/side.rs`). glibc 2.31: %d rows of this table are side-only,"
      % SIDE_ONLY_231)
    w("%d of them of an interposed class and interposed this way." % SIDE_ONLY_231_INTERPOSED)
    w("")
    w("### At run time on another libc")
    w("")
    w("The library recognises the running libc at load (the same fingerprint, `src/libc/identity.rs`,")
    w("a few thousand instructions). On another libc than the build's: one warning line (stderr, or")
    w("the text log; a JSON log's `start` record carries `libc` and `unknown_functions` instead), the")
    w("functions that libc exports which the build does not know are counted (listed with")
    w("`verbosity=1`), and `assafe run` reports the process as \"partially checked (N functions")
    w("unknown to this build)\". A stub whose real function is missing at its build version falls")
    w("back to the name's default version in the running libc, else fails the call with `ENOSYS`")
    w("(-1; a `pthread_*` function returns `ENOSYS`; `pthread_getspecific`, `dlopen`, `dlsym`,")
    w("`dlerror`... NULL) and counts it")
    w("(`unresolved_calls`) -- never a jump to address 0. Weak probes can differ from a run without")
    w("the library there (the host build on glibc 2.31 exports `arc4random` and `__pthread_key_create`,")
    w("which a 2.31 process without libpthread lacks): libstdc++ and libgcc_s then take their threaded")
    w("path, so `pthread_once` without a real one runs the initialiser once itself (such a process has")
    w("no second thread), which keeps C++ programs working. A library built for the libc it runs on is")
    w("the supported way, and the only fully checked one.")
    w("")
    w("## Reasons of interposed and skipped names")
    w("")
    w("| reason | names |")
    w("|---|---:|")
    for r, n in sorted(reasons.items(), key=lambda x: (-x[1], x[0])):
        w("| `%s` | %d |" % (r, n))
    return "\n".join(o) + "\n"


def render_readme_block(rows):
    """The lines between the README markers: a compact summary of symbols.txt."""
    cls = Counter(r["class"] for r in rows)
    pairs = defaultdict(Counter)
    for r in rows:
        pairs[r["class"]][(r["posix"], r["glibc"])] += 1
    psrc = Counter(r["posix_src"] for r in rows)
    gsrc = Counter(r["glibc_src"] for r in rows)
    interposed = sum(n for c, n in cls.items() if c not in ("safe", "skip"))
    o = []
    w = o.append
    w("<!-- generated by scripts/gen-symbols.py; do not edit between the markers -->")
    w("")
    w("%d public functions of the x86_64 libcs (glibc 2.31 to 2.44, musl 1.2.3 and 1.2.5); %d of an "
      "interposed class, %d left alone (a build interposes those its libc exports)."
      % (len(rows), interposed, len(rows) - interposed))
    w("")
    w("| class | functions | (posix, glibc) verdicts |")
    w("|---|---:|---|")
    for c, _doc in CLASS_DOC:
        if not cls[c]:
            continue
        v = ", ".join("%s/%s %d" % (p, g, n) for (p, g), n in sorted(pairs[c].items()))
        w("| `%s` | %d | %s |" % (c, cls[c], v))
    total = Counter((r["posix"], r["glibc"]) for r in rows)
    w("| **all** | %d | %s |" % (len(rows), ", ".join("%s/%s %d" % (p, g, n)
                                                      for (p, g), n in sorted(total.items()))))
    w("")
    w("| verdict | POSIX list | glibc manual | assafe judgement | manual silent (safe) |")
    w("|---|---:|---:|---:|---:|")
    w("| posix | %d | - | %d | - |" % (psrc["posix"], psrc["assafe"]))
    w("| glibc | - | %d | %d | %d |" % (gsrc["manual"], gsrc["assafe"], gsrc["undocumented"]))
    w("")
    w("Per-function verdicts and their sources: [`symbols.txt`](symbols.txt); classes, reasons "
      "and counts: [`docs/symbols.md`](docs/symbols.md).")
    return o


def render_readme(old, rows):
    """README text with the marked block regenerated, or None when the markers are absent."""
    lines = old.split("\n")
    try:
        b = next(i for i, l in enumerate(lines) if l.strip() == README_BEGIN)
        e = next(i for i, l in enumerate(lines) if l.strip() == README_END and i > b)
    except StopIteration:
        return None
    return "\n".join(lines[:b + 1] + render_readme_block(rows) + lines[e:])


# --------------------------------------------------------------------------
# ELF reading (--check-libc)
# --------------------------------------------------------------------------

SHT_DYNSYM, SHT_GNU_VERDEF, SHT_GNU_VERSYM = 11, 0x6FFFFFFD, 0x6FFFFFFF
STT_FUNC, STT_GNU_IFUNC = 2, 10


def read_elf_dynsym(path):
    """[(name, type, bind, shndx, value, version, hidden)] from .dynsym."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError("%s: not a little-endian ELF64 file" % path)
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    secs = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    # (name, type, flags, addr, offset, size, link, info, align, entsize)
    by_type = {s[1]: s for s in secs}
    dynsym, versym, verdef = by_type.get(SHT_DYNSYM), by_type.get(SHT_GNU_VERSYM), by_type.get(SHT_GNU_VERDEF)
    if not dynsym:
        raise ValueError("%s: no .dynsym" % path)

    def cstr(strsec, off):
        start = strsec[4] + off
        return data[start:data.index(b"\0", start)].decode()

    vnames = {}
    if verdef:
        off = verdef[4]
        for _ in range(verdef[7]):
            _v, _fl, ndx, _cnt, _h, aux, nxt = struct.unpack_from("<HHHHIII", data, off)
            vda_name, = struct.unpack_from("<I", data, off + aux)
            vnames[ndx] = cstr(secs[verdef[6]], vda_name)
            if not nxt:
                break
            off += nxt
    strtab = secs[dynsym[6]]
    out = []
    for i in range(1, dynsym[5] // dynsym[9]):
        st_name, st_info, _other, shndx, value, _size = struct.unpack_from("<IBBHQQ", data, dynsym[4] + i * dynsym[9])
        vs = struct.unpack_from("<H", data, versym[4] + 2 * i)[0] if versym else 1
        out.append((cstr(strtab, st_name), st_info & 0xF, st_info >> 4, shndx, value,
                    vnames.get(vs & 0x7FFF, ""), bool(vs & 0x8000)))
    return out


def read_symbols_file(path):
    """Rows of symbols.txt as written on disk (what the Rust build consumes)."""
    rows = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.startswith("#") or not line.strip():
                    continue
                cols = line.rstrip("\n").split("\t")
                if len(cols) != len(COLUMN_NAMES):
                    sys.exit("gen-symbols: %s: malformed row: %r" % (path, line))
                rows.append(dict(zip(COLUMN_NAMES, cols)))
    except FileNotFoundError:
        pass
    return rows


def libc_release(path):
    """glibc's banner version ("... release version 2.36.") of the file, or None (musl)."""
    with open(path, "rb") as f:
        m = re.search(rb"release version (\d+\.\d+)", f.read())
    return m.group(1).decode() if m else None


def check_libc(path, rows, ref):
    """The libc at PATH (the host's by default) must be covered: every public function it exports
    is a row of symbols.txt. When it is one of the libcs of data/reference/exports, its exports
    must also be exactly that table's (so the libcs column is right for it), and for glibc 2.36
    the ELF-derived tables (SAME_CODE, DISTINCT_VERSIONED) are verified."""
    try:
        syms = read_elf_dynsym(path)
        release = libc_release(path)
    except (OSError, ValueError) as e:
        print("gen-symbols: --check-libc: %s" % e, file=sys.stderr)
        return False
    funcs = [s for s in syms if s[1] in (STT_FUNC, STT_GNU_IFUNC) and s[3] != 0
             and s[5] != "GLIBC_PRIVATE"]
    exported = {}  # name -> default version (non-hidden)
    addrs = defaultdict(set)
    for name, _t, _b, _sh, value, ver, hidden in funcs:
        addrs[name].add(value)
        if not hidden:
            exported[name] = ver
    listed = {r["name"]: r for r in rows}
    ok = True

    def fail(title, items):
        nonlocal ok
        if items:
            ok = False
            print("gen-symbols: --check-libc: %s (%d): %s" % (title, len(items), " ".join(sorted(items))),
                  file=sys.stderr)

    fail("%s exports public functions symbols.txt does not classify" % path,
         [n for n in exported if n not in listed])
    label = ("glibc-" + release) if release else None
    known = label in ref.exports_by if label else False
    if known:
        table = {n: v for n, (v, lib) in ref.exports_by[label].items() if lib == "libc.so.6"}
        fail("%s differs from data/reference/exports/%s.tsv" % (path, label),
             ["%s@%s" % kv for kv in set(table.items()) ^ set(exported.items())])
    if label == "glibc-2.36":
        fail("default version differs from %s" % path,
             ["%s(%s!=%s)" % (n, listed[n]["version"], v) for n, v in exported.items()
              if n in listed and listed[n]["version"] != v])
        multi = {n for n in exported if len(addrs[n]) > 1}
        fail("DISTINCT_VERSIONED is stale (should be exactly the names with distinct-code versions)",
             multi ^ DISTINCT_VERSIONED)
        fail("SAME_CODE entries that are not the same code",
             ["%s/%s" % (a, b) for a, b in SAME_CODE.items() if a in exported and addrs[a] & addrs[b] != addrs[a]])
    compat_only = {s[0] for s in funcs} - set(exported)
    if ok:
        print("gen-symbols: %s (%s): %d public functions, all classified%s (%d compat-only names not listed)"
              % (path, "glibc " + release if release else "unknown release", len(exported),
                 ", exactly exports/%s.tsv" % label if known else "", len(compat_only)))
    return ok


def check_arch_exports(arch, path, rows):
    """data/reference/libc-exports-ARCH.tsv (build.rs's versions for ARCH) must be exactly the
    default-version public functions PATH (that architecture's libc.so.6) exports."""
    table = os.path.join(REPO, "data", "reference", "libc-exports-%s.tsv" % arch)
    try:
        syms = read_elf_dynsym(path)
    except (OSError, ValueError) as e:
        print("gen-symbols: --check-exports: %s" % e, file=sys.stderr)
        return False
    exported = {n: v for n, t, _b, sh, _v, v, hidden in syms
                if t in (STT_FUNC, STT_GNU_IFUNC) and sh != 0 and not hidden and v != "GLIBC_PRIVATE"}
    listed = {}
    with open(table, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or line.startswith("symbol\t") or not line.strip():
                continue
            n, v = line.rstrip("\n").split("\t")
            listed[n] = v
    if listed != exported:
        diff = sorted(set(listed.items()) ^ set(exported.items()))
        print("gen-symbols: --check-exports: %s differs from %s (%d): %s"
              % (os.path.relpath(table, REPO), path, len(diff), " ".join("%s@%s" % d for d in diff[:40])),
              file=sys.stderr)
        return False
    names = {r["name"] for r in rows}
    interposed = {r["name"] for r in rows if r["class"] not in ("safe", "skip")}
    lost = sorted(interposed - set(exported))
    print("gen-symbols: %s: %d public functions match %s; %d symbols.txt rows are not exported "
          "there (x86-only or other libcs' names; %d of an interposed class, so not interposed on "
          "%s%s); %d names exported there are not in symbols.txt"
          % (path, len(exported), os.path.relpath(table, REPO), len(names - set(exported)),
             len(lost), arch, (": " + " ".join(lost)) if lost else "", len(set(exported) - names)))
    return True


# --------------------------------------------------------------------------


def diff_summary(old, new, label):
    o = {l.split("\t")[0]: l for l in old.splitlines() if l and not l.startswith("#")}
    n = {l.split("\t")[0]: l for l in new.splitlines() if l and not l.startswith("#")}
    lines = []
    for k in sorted(set(o) | set(n)):
        if k not in n:
            lines.append("  - " + o[k])
        elif k not in o:
            lines.append("  + " + n[k])
        elif o[k] != n[k]:
            lines.append("  - " + o[k] + "\n  + " + n[k])
    hdr = [l for l in old.splitlines() if l.startswith("#")] != [l for l in new.splitlines() if l.startswith("#")]
    msg = "%s is stale: %d rows differ%s" % (label, len(lines), ", header differs" if hdr else "")
    return msg, lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reference", default=DEFAULT_REFERENCE, help="reference data directory")
    ap.add_argument("--check", action="store_true", help="do not write; exit 1 if the files are stale")
    ap.add_argument("--libc", default=DEFAULT_LIBC, help="libc.so.6 to check with --check-libc")
    ap.add_argument("--check-libc", action="store_true",
                    help="fail if --libc exports a public function symbols.txt does not classify")
    ap.add_argument("--check-exports", action="append", default=[], metavar="ARCH=LIBC",
                    help="fail unless data/reference/libc-exports-ARCH.tsv lists exactly LIBC's "
                         "public functions (e.g. aarch64=/usr/aarch64-linux-gnu/lib/libc.so.6)")
    args = ap.parse_args()

    if not os.path.isfile(os.path.join(args.reference, "libc-exports.tsv")):
        print("gen-symbols: no reference data in %s (use --reference DIR)" % args.reference,
              file=sys.stderr)
        return 2
    ref = Reference(args.reference)
    rows = build(ref)
    outputs = [(SYMBOLS, render_symbols(rows, ref)), (DOC, render_doc(rows))]
    try:
        with open(README, encoding="utf-8") as f:
            readme = render_readme(f.read(), rows)
    except FileNotFoundError:
        readme = None
    if readme is not None:  # no README or no markers: leave it alone
        outputs.append((README, readme))
    status = 0
    for path, text in outputs:
        try:
            with open(path, encoding="utf-8") as f:
                old = f.read()
        except FileNotFoundError:
            old = ""
        if old == text:
            continue
        if args.check:
            status = 1
            if path == README:
                print("gen-symbols: README.md: the symbols table block is stale", file=sys.stderr)
                continue
            msg, lines = diff_summary(old, text, os.path.relpath(path, REPO))
            print("gen-symbols: " + msg, file=sys.stderr)
            for l in lines[:40]:
                print(l, file=sys.stderr)
            if len(lines) > 40:
                print("  ... %d more" % (len(lines) - 40), file=sys.stderr)
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            print("gen-symbols: wrote %s" % os.path.relpath(path, REPO))
    for spec in args.check_exports:
        arch, _, path = spec.partition("=")
        if not check_arch_exports(arch, path, read_symbols_file(SYMBOLS)):
            status = 1
    if args.check and status:
        print("gen-symbols: run python3 scripts/gen-symbols.py to regenerate", file=sys.stderr)
    if args.check_libc:
        if not check_libc(args.libc, read_symbols_file(SYMBOLS), ref):
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
