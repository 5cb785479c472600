using BenchmarkDotNet.Running;

// `./build.sh bench e2ee` runs every benchmark class here; pass BenchmarkDotNet arguments after it (e.g. --filter '*Frame*').
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
