/* The CRI lane's stand-in for critest's nonewprivs image: installed setuid root, it prints its
 * effective uid; run as uid 1000 that is 0 unless no_new_privs stopped the setuid transition. */
#include <stdio.h>
#include <unistd.h>

int main(void) {
    printf("Effective uid: %d\n", (int)geteuid());
    return 0;
}
