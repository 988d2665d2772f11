# tar -I 'xz -T2': tar runs the compressor through /bin/sh (dash), which vforks with every signal
# blocked in a single-threaded process; xz itself is multi-threaded.
# quick: yes
# tries: 1
setup() { head -c 2000000 /dev/urandom > data.bin; }
run() { exec dash -c "tar -I 'xz -T2' -cf out.tar.xz data.bin && tar -I 'xz -T2' -xOf out.tar.xz >/dev/null"; }
