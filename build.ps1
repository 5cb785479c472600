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
    npm ci --prefix tests/interop --no-audit --no-fund --loglevel=error
    if ($LASTEXITCODE) { exit $LASTEXITCODE }
    # Optional: the real Claude Code, Codex, OpenCode and Copilot CLIs, driven by tests against loopback stand-ins of their APIs.
    npm ci --prefix tests/realcli --no-audit --no-fund --loglevel=error
    if ($LASTEXITCODE) { Write-Warning "tests/realcli (real claude, codex, opencode and copilot CLIs) not installed; their tests will say so" }
    $results = ".test-results"
    if (Test-Path $results) { Remove-Item -Recurse -Force $results }
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
      dotnet run -c $Config --no-build -- --filter '*' @($Rest | Select-Object -Skip 1)
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
