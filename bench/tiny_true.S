/* The smallest program that can be exec'd: no libc, no dynamic loader. exit(0).
 * Spawning it measures the spawn path itself, not ld.so. */
    .text
    .globl _start
_start:
    movl    $60, %eax
    xorl    %edi, %edi
    syscall
    .section .note.GNU-stack,"",@progbits
