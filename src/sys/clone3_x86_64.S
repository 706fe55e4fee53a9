/* pid_t tend_clone3_vm_raw(struct clone_args* args, size_t size, int (*fn)(void*), void* arg)
 *
 * clone3 for a CLONE_VM|CLONE_VFORK child that runs fn(arg) on its own stack (args->stack).
 * The child inherits the registers, so fn and arg travel in callee-saved r12/r13; it must not
 * return into the parent's frames (they are on the parent's stack, which it shares), so it
 * calls fn and then exit(2)s with its result. The parent restores r12/r13 and returns the
 * syscall's result: the child's PID, or -errno.
 */
    .text
    .globl  tend_clone3_vm_raw
    .type   tend_clone3_vm_raw, @function
tend_clone3_vm_raw:
    .cfi_startproc
    pushq   %r12
    .cfi_adjust_cfa_offset 8
    pushq   %r13
    .cfi_adjust_cfa_offset 8
    movq    %rdx, %r12
    movq    %rcx, %r13
    movl    $435, %eax          /* __NR_clone3 */
    syscall
    testq   %rax, %rax
    jz      1f
    popq    %r13
    .cfi_adjust_cfa_offset -8
    popq    %r12
    .cfi_adjust_cfa_offset -8
    ret
1:
    .cfi_undefined rip
    xorl    %ebp, %ebp          /* outermost frame for unwinders */
    movq    %r13, %rdi
    callq   *%r12
    movl    %eax, %edi
    movl    $60, %eax           /* __NR_exit */
    syscall
    hlt
    .cfi_endproc
    .size   tend_clone3_vm_raw, .-tend_clone3_vm_raw

    .section .note.GNU-stack,"",@progbits
