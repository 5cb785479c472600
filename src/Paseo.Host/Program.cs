using System.CommandLine;
using System.Collections;
using Paseo.Host.Cli;

// Thread-pool workers out of work sleep at once instead of spinning (sched_yield) first: after every wake-up of an idle
// daemon the spin cost more than the work (bench/README.md, "Efficiency"). Set here, before the pool's first worker
// reads it (the same name in runtimeconfig.json showed no effect in our runs; this did). The environment
// variable, when set, wins.
if (Environment.GetEnvironmentVariable("DOTNET_ThreadPool_UnfairSemaphoreSpinLimit") is null)
    AppContext.SetData("System.Threading.ThreadPool.UnfairSemaphoreSpinLimit", 0);

var env = Environment.GetEnvironmentVariables().Cast<DictionaryEntry>()
    .ToDictionary(e => (string)e.Key, e => (string?)e.Value, StringComparer.Ordinal);
var parse = PaseoCommandLine.Build(env, Console.Out, Console.Error, Console.In).Parse(args);
// The servers (the daemon in the foreground, which is also what a detached start runs, and the relay) stop through their
// host: SIGTERM or Ctrl-C starts a graceful stop that may take longer than 2 s (agents' CLIs, a relay node handing its
// rooms over). System.CommandLine's own handler would end the process 2 s into it with exit code 143/130.
return await parse.InvokeAsync(PaseoCommandLine.RunsUntilSignalled(parse) ? new InvocationConfiguration { ProcessTerminationTimeout = null } : null);
