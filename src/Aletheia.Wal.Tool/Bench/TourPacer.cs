using System.Diagnostics;
using Spectre.Console;

namespace Aletheia.Wal.Tool.Bench;

/// <summary>
/// The tour's clock on the driver thread: waits out each workload's duration, ends early on Ctrl+C or a failed workload
/// thread, and keeps the live progress line (interactive consoles only) up to date meanwhile.
/// </summary>
internal sealed class TourPacer
{
    private static readonly TimeSpan s_refresh = TimeSpan.FromMilliseconds(100);

    private readonly ProgressContext? _progress;
    private ProgressTask? _task;
    private long _lastRefresh;

    /// <param name="token">Cancelled on Ctrl+C (or SIGTERM): every wait returns at once, and the tour stops after the current workload.</param>
    /// <param name="progress">The live progress display, or null to show none (output redirected, or <c>--json</c>).</param>
    public TourPacer(CancellationToken token, ProgressContext? progress)
    {
        Token = token;
        _progress = progress;
    }

    public CancellationToken Token { get; }

    public bool Cancelled => Token.IsCancellationRequested;

    /// <summary>A new progress line for the part of the tour that starts now.</summary>
    public void Begin(string label)
    {
        if (_progress is not null)
        {
            _task = _progress.AddTask(Markup.Escape(label), maxValue: 1);
            _progress.Refresh();
            _lastRefresh = Stopwatch.GetTimestamp();
        }
    }

    /// <summary>How far the current part is (0 to 1); redraws at most ten times a second.</summary>
    public void Report(double fraction)
    {
        if (_task is not null && Stopwatch.GetElapsedTime(_lastRefresh) >= s_refresh)
        {
            _task.Value = Math.Clamp(fraction, 0, 1);
            _progress!.Refresh();
            _lastRefresh = Stopwatch.GetTimestamp();
        }
    }

    public void End()
    {
        if (_task is not null)
        {
            _task.Value = 1;
            _task.StopTask();
            _progress!.Refresh();
            _task = null;
        }
    }

    /// <summary>
    /// Waits <paramref name="duration"/> from <paramref name="started"/> (<see cref="Stopwatch"/> ticks); returns early
    /// when the token is cancelled or <paramref name="failed"/> is signalled.
    /// </summary>
    public void Wait(long started, TimeSpan duration, WaitHandle? failed)
    {
        WaitHandle[] handles = failed is null ? [Token.WaitHandle] : [Token.WaitHandle, failed];
        while (true)
        {
            TimeSpan elapsed = Stopwatch.GetElapsedTime(started);
            TimeSpan left = duration - elapsed;
            if (left <= TimeSpan.Zero)
            {
                return;
            }

            TimeSpan slice = _task is null || left < s_refresh ? left : s_refresh;
            if (WaitHandle.WaitAny(handles, slice) != WaitHandle.WaitTimeout)
            {
                return;
            }

            Report(Stopwatch.GetElapsedTime(started) / duration);
        }
    }
}
