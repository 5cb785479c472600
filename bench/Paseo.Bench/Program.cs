using BenchmarkDotNet.Running;
using Paseo.Bench;

// `./build.sh bench e2ee` runs the BenchmarkDotNet classes here (extra arguments go to BenchmarkDotNet);
// `./build.sh bench fanout` runs the fan-out load driver against the real daemon (FanoutDriver).
if (args.Length > 0 && args[0] == "fanout") return await FanoutDriver.RunAsync(args[1..]);
if (args.Length > 0 && args[0] == "efficiency") return await EfficiencyDriver.RunAsync(args[1..]);
if (args.Length > 0 && args[0] == "orchestration") return await OrchestrationDriver.RunAsync(args[1..]);
if (args.Length > 0 && args[0] == "relay-cluster") return await RelayClusterDriver.RunAsync(args[1..]);
if (args.Length > 0 && args[0] == "relay") return await RelayDriver.RunAsync(args[1..]);
if (args.Length > 0 && args[0] == "providers") return await ProviderDriver.RunAsync(args[1..]);
if (args.Length > 0 && args[0] == "workspaces") return await WorkspacesDriver.RunAsync(args[1..]);
if (args.Length > 0 && args[0] == "terminals") return await TerminalsDriver.RunAsync(args[1..]);
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
