/**
 * The `gatehouse` command. `serve` loads only what serving needs, so a WORKERS supervisor
 * stays small (its workers load the server); a management command loads its modules only
 * when one is asked for.
 */
const argv = process.argv.slice(2);
if (argv[0] === 'serve' || argv.length === 0) {
  const { serve } = await import('./main.js');
  await serve(process.env);
} else {
  const { runCommand } = await import('./cli/commands.js');
  await runCommand(argv);
}
