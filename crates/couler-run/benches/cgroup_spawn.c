/* What a step cgroup costs a spawn (docs/performance.md, "Flat memory and steps born in
 * their cgroups"): N spawns of /bin/true, each waited for, in one of four ways.
 *
 *   gcc -O2 -o /tmp/cgroup_spawn crates/couler-run/benches/cgroup_spawn.c
 *   /tmp/cgroup_spawn N MODE [CGROUP_V2_DIR]   (as root; default /sys/fs/cgroup/unified)
 *
 * MODE 0: fork + exec; 1: posix_spawn; 2: a fresh cgroup per spawn, the child moving itself
 * into it between fork and exec (what the runtime did); 3: a fresh cgroup per spawn, the child
 * born in it by clone3(CLONE_INTO_CGROUP) (what it does now). Modes 2 and 3 kill and remove
 * the cgroup after each spawn, as the runtime does. Prints microseconds per spawn and how
 * many spawns did not exit 0. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static void write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY);
  if (fd >= 0) {
    if (write(fd, text, strlen(text)) < 0) perror(path);
    close(fd);
  }
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s N MODE [CGROUP_V2_DIR]\n", argv[0]);
    return 2;
  }
  int n = atoi(argv[1]), mode = atoi(argv[2]), fails = 0;
  const char *root = argc > 3 ? argv[3] : "/sys/fs/cgroup/unified";
  char *child_argv[] = {"/bin/true", NULL};
  char dir[512], file[600];
  double t = now();
  for (int i = 0; i < n; i++) {
    pid_t pid = -1;
    if (mode >= 2) {
      snprintf(dir, sizeof dir, "%s/cgroup-spawn-%d-%d", root, getpid(), i);
      if (mkdir(dir, 0755) != 0) { perror(dir); return 1; }
    }
    if (mode == 0) {
      pid = fork();
      if (pid == 0) { setpgid(0, 0); execv(child_argv[0], child_argv); _exit(127); }
    } else if (mode == 1) {
      posix_spawn(&pid, child_argv[0], NULL, NULL, child_argv, environ);
    } else if (mode == 2) {
      snprintf(file, sizeof file, "%s/cgroup.procs", dir);
      pid = fork();
      if (pid == 0) { setpgid(0, 0); write_file(file, "0"); execv(child_argv[0], child_argv); _exit(127); }
    } else {
      int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      struct clone_args a;
      memset(&a, 0, sizeof a);
      a.flags = CLONE_INTO_CGROUP;
      a.exit_signal = SIGCHLD;
      a.cgroup = dfd;
      pid = syscall(SYS_clone3, &a, sizeof a);
      if (pid == 0) { setpgid(0, 0); execv(child_argv[0], child_argv); _exit(127); }
      close(dfd);
    }
    if (pid < 0) { perror("spawn"); return 1; }
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) fails++;
    if (mode >= 2) {
      snprintf(file, sizeof file, "%s/cgroup.kill", dir);
      write_file(file, "1");
      if (rmdir(dir) != 0) perror(dir);
    }
  }
  printf("mode %d: %.1f us per spawn, %d failed\n", mode, (now() - t) / n * 1e6, fails);
  return 0;
}
