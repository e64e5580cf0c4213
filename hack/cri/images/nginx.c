/* The CRI lane's stand-in for critest's nginx images: what the tests look at, not a web server of
 * its own. Like nginx it retitles its first process "nginx: master process ..." (the ContainerPID
 * test greps /proc/1/cmdline for it), keeps the name nginx (HostPID runs `pidof nginx`), writes
 * its pid to /var/run/nginx.pid, and serves /usr/share/nginx/html over HTTP on the port named in
 * /etc/nginx/port (default 80) through busybox httpd, its child. SIGTERM, SIGINT or SIGQUIT stop
 * both; if the server dies, so does the master. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TITLE "nginx: master process nginx -g daemon off;"

int main(int argc, char **argv) {
    (void)argc;
    if (strcmp(argv[0], TITLE) != 0) {
        char *args[] = {TITLE, NULL};
        execv("/usr/sbin/nginx", args);
        perror("nginx: re-exec");
        return 1;
    }
    char port[16] = "80";
    FILE *f = fopen("/etc/nginx/port", "r");
    if (f) {
        if (!fgets(port, sizeof port, f))
            strcpy(port, "80");
        port[strcspn(port, "\n")] = 0;
        fclose(f);
    }
    f = fopen("/var/run/nginx.pid", "w");
    if (!f) {
        perror("nginx: /var/run/nginx.pid");
        return 1;
    }
    fprintf(f, "%d\n", (int)getpid());
    fclose(f);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGQUIT);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    pid_t child = fork();
    if (child < 0) {
        perror("nginx: fork");
        return 1;
    }
    if (child == 0) {
        sigprocmask(SIG_UNBLOCK, &set, NULL);
        execl("/bin/busybox", "httpd", "-f", "-p", port, "-h", "/usr/share/nginx/html", (char *)NULL);
        perror("nginx: exec httpd");
        _exit(127);
    }
    fprintf(stderr, "nginx: serving on port %s (httpd pid %d)\n", port, (int)child);
    for (;;) {
        int sig;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig != SIGCHLD) {
            kill(child, SIGTERM);
            waitpid(child, NULL, 0);
            return 0;
        }
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            if (pid == child)
                return 1;
        }
    }
}
