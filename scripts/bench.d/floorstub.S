# The cheapest possible interposer of malloc/free: the same 4-instruction TLS-check stub as
# libassafe, hand-written, 32-byte aligned, jumping to __libc_malloc/__libc_free. scripts/bench
# measures it beside libassafe to show the floor any stub-based interposer pays on this machine.
    .section .tbss,"awT",@nobits
    .balign 16
st: .zero 16
    .text
    .globl malloc, free
    .p2align 5
malloc:
    mov st@GOTTPOFF(%rip), %r11
    cmpb $0, %fs:(%r11)
    jne 1f
    jmp *real_malloc(%rip)
1:  ud2
    .p2align 5
free:
    mov st@GOTTPOFF(%rip), %r11
    cmpb $0, %fs:(%r11)
    jne 1f
    jmp *real_free(%rip)
1:  ud2
    .data
    .globl real_malloc, real_free
    .hidden real_malloc, real_free
real_malloc: .quad 0
real_free: .quad 0
.section .note.GNU-stack,"",@progbits
