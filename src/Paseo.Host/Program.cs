using System.Collections;
using Paseo.Host.Cli;

var env = Environment.GetEnvironmentVariables().Cast<DictionaryEntry>()
    .ToDictionary(e => (string)e.Key, e => (string?)e.Value, StringComparer.Ordinal);
return await PaseoCommandLine.Build(env, Console.Out, Console.Error, Console.In).Parse(args).InvokeAsync();
