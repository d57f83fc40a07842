/**
 * Imported by a benchmark's child process (or given to it with `--import`): on SIGUSR2 the process prints
 * `cpu <µs>`, its CPU time so far (user and system), so that the benchmark can charge each side of a call its cost.
 */
process.on('SIGUSR2', () => {
  const { user, system } = process.cpuUsage();
  console.log(`cpu ${user + system}`);
});
