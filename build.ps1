# One entry point for Paseo.NET on PowerShell: ./build.ps1 build | test | run [daemon flags] | publish | bench e2ee|fanout
param([string]$Command = "build", [Parameter(ValueFromRemainingArguments = $true)][string[]]$Rest)
$ErrorActionPreference = "Stop"
Set-Location $PSScriptRoot
$Config = "Release"
function Build { dotnet restore Paseo.sln; if ($LASTEXITCODE) { exit $LASTEXITCODE }; dotnet build Paseo.sln --no-restore -c $Config -tl:off -nologo -v:minimal; if ($LASTEXITCODE) { exit $LASTEXITCODE } }
switch ($Command) {
  "build" { Build }
  "test" {
    Build
    $results = ".test-results"
    if (Test-Path $results) { Remove-Item -Recurse -Force $results }
    New-Item -ItemType Directory -Force $results | Out-Null
    npm ci --prefix tests/interop --no-audit --no-fund --loglevel=error
    if ($LASTEXITCODE) { exit $LASTEXITCODE }
    # The real Claude Code, Codex, OpenCode and Copilot CLIs, driven by tests against loopback stand-ins of their APIs. When
    # they cannot be installed their tests are reported skipped (failed under CI=true); npm's output goes to a file.
    npm ci --prefix tests/realcli --no-audit --no-fund --loglevel=error *> "$results/npm-realcli.log"
    if ($LASTEXITCODE) { Write-Warning "tests/realcli (the real claude, codex, opencode and copilot CLIs) could not be installed; their tests will be skipped (failed under CI=true); see $results/npm-realcli.log" }
    dotnet test Paseo.sln --no-build -c $Config -tl:off --logger trx --results-directory $results @Rest
    $rc = $LASTEXITCODE
    $passed = 0; $failed = 0; $skipped = 0
    foreach ($f in Get-ChildItem "$results/*.trx") {
      $c = ([xml](Get-Content $f)).TestRun.ResultSummary.Counters
      $passed += [int]$c.passed; $failed += [int]$c.failed; $skipped += [int]$c.total - [int]$c.executed
    }
    if ($rc -ne 0 -and $failed -eq 0) { $failed = 1 }
    Write-Output "$passed passed, $failed failed, $skipped skipped"
    exit $rc
  }
  "run" {
    dotnet build src/Paseo.Host/Paseo.Host.csproj -c $Config -tl:off -nologo -v:minimal
    & "src/Paseo.Host/bin/$Config/net10.0/paseo" daemon start --foreground @Rest
    exit $LASTEXITCODE
  }
  "bench" {
    Build
    if ($Rest.Count -gt 0 -and $Rest[0] -eq "e2ee") {
      Set-Location bench/Paseo.Bench
      $bdn = @($Rest | Select-Object -Skip 1)
      # Every benchmark unless the arguments name their own --filter.
      if ($bdn -contains "--filter" -or $bdn -contains "-f") { dotnet run -c $Config --no-build -- @bdn }
      else { dotnet run -c $Config --no-build -- --filter '*' @bdn }
      exit $LASTEXITCODE
    }
    if ($Rest.Count -gt 0 -and $Rest[0] -eq "fanout") {
      Set-Location bench/Paseo.Bench
      dotnet run -c $Config --no-build -- fanout @($Rest | Select-Object -Skip 1)
      exit $LASTEXITCODE
    }
    Write-Error "the start-up benchmark (bench/run.sh) needs bash"; exit 64
  }
  "publish" { dotnet publish src/Paseo.Host/Paseo.Host.csproj -c $Config -tl:off -nologo -o artifacts/paseo @Rest }
  default { Write-Error "usage: ./build.ps1 build | test | run [daemon flags] | publish | bench e2ee|fanout"; exit 64 }
}
