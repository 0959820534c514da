using System.Diagnostics;
using Xunit;

namespace Aletheia.Wal.Tests.Support;

/// <summary>The repository the tests were built from: its files, and the build configuration of the tests.</summary>
internal static class Repository
{
    /// <summary>A file of the repository, found from the test assembly's directory upwards (where the solution is).</summary>
    public static string File(params string[] parts)
    {
        for (DirectoryInfo? directory = new(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (System.IO.File.Exists(Path.Combine(directory.FullName, "Aletheia.Wal.Unsafe.sln")))
            {
                return Path.Combine([directory.FullName, .. parts]);
            }
        }

        throw new InvalidOperationException($"No Aletheia.Wal.Unsafe.sln above {AppContext.BaseDirectory}.");
    }

    /// <summary>The configuration the tests were built in (Release or Debug): the name of bin/CONFIG/net10.0/.</summary>
    public static string Configuration => new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;

    /// <summary>Runs a program to its end, within <paramref name="seconds"/>: its exit code and its output (stdout and stderr).</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string program, IEnumerable<string> args, int seconds = 180, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        foreach ((string name, string value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        using var process = Process.Start(info)!;
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        try
        {
            Task<string> output = process.StandardOutput.ReadToEndAsync(limit.Token);
            Task<string> error = process.StandardError.ReadToEndAsync(limit.Token);
            await process.WaitForExitAsync(limit.Token);
            return (process.ExitCode, await output + await error);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{program} {string.Join(' ', info.ArgumentList)} ran for more than {seconds} s.");
            throw;
        }
    }
}
