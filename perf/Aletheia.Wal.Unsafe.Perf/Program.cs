using BenchmarkDotNet.Running;

namespace Aletheia.Wal.Perf;

/// <summary>Runs BenchmarkDotNet benchmarks: <c>dotnet run -c Release -- --filter '*Ring*'</c>.</summary>
public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
