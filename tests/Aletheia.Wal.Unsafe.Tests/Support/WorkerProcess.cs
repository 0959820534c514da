using System.Diagnostics;
using Xunit;

namespace Aletheia.Wal.Tests.Support;

/// <summary>Starts the worker program (built next to the tests) as a child process.</summary>
internal static class WorkerProcess
{
    public static Process Start(params string[] args) => StartProgram("Aletheia.Wal.Unsafe.Worker.dll", args);

    /// <summary>Starts <paramref name="program"/>, a program built next to the tests (the Raft tests have their own worker).</summary>
    public static Process StartProgram(string program, params string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, program);
        Assert.True(File.Exists(dll), $"The worker is built next to the tests: {dll}");
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(dll);
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        var worker = new KilledOnDispose { StartInfo = info };
        worker.Start();
        return worker;
    }

    /// <summary>The worker's next line of output, or a failed assertion after <paramref name="seconds"/>.</summary>
    public static string ReadLine(Process worker, int seconds = 60)
    {
        Task<string?> line = worker.StandardOutput.ReadLineAsync();
        Assert.True(line.Wait(TimeSpan.FromSeconds(seconds)), $"The worker printed nothing within {seconds} s: {TryReadError(worker)}");
        return line.Result ?? throw new InvalidOperationException($"The worker exited: {TryReadError(worker)}");
    }

    /// <summary>Runs the worker to its end: <paramref name="args"/>, its one line of output, and a clean exit.</summary>
    public static string RunForLine(params string[] args)
    {
        using Process worker = Start(args);
        string line = ReadLine(worker, seconds: 120);
        Assert.True(worker.WaitForExit(60_000), "The worker exits after its line.");
        Assert.Equal(0, worker.ExitCode);
        return line;
    }

    private static string TryReadError(Process worker) => worker.HasExited ? worker.StandardError.ReadToEnd() : "(still running)";

    /// <summary>A worker that a failed or hung test leaves running is killed when the test disposes it, so that it cannot
    /// load the machine under the tests and benchmarks that follow.</summary>
    private sealed class KilledOnDispose : Process
    {
        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                try
                {
                    if (!HasExited)
                    {
                        Kill(entireProcessTree: true);
                        WaitForExit(10_000);
                    }
                }
                catch (InvalidOperationException)
                {
                    // never started, or already gone
                }
            }

            base.Dispose(disposing);
        }
    }
}
