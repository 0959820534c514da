using System.Globalization;
using Aletheia.Wal.Inspection;
using Aletheia.Wal.Reading;
using Aletheia.Wal.Recovery;
using Aletheia.Wal.Storage;

namespace Aletheia.Wal;

/// <summary>
/// Health checks and repair of a log directory that no writer has open, for operators and engines. Both run the code
/// recovery at open runs (<c>wal.head</c>'s resolution, the completion of a pending <see cref="WriteAheadLog.TruncateAfter"/>,
/// the cursor that checks every byte up to the proven end and judges the first damage, the table that maps damage and
/// mode to cut or refuse), so the verdict is the one <see cref="WriteAheadLog.Open(WalOptions)"/> gives, not a second opinion:
/// <see cref="Inspect(WalOptions, IProgress{long}?, CancellationToken)"/> runs it over a storage that writes nothing,
/// <see cref="Repair(WalOptions, string)"/> saves every byte that run would cut or delete, then runs it for real.
/// </summary>
/// <remarks>
/// A directory whose lock a writer holds is refused (<see cref="WalException"/>): read from a log being written, a write
/// in flight looks like a torn tail, and recovery's verdict is about a log nobody writes. Use
/// <see cref="WalReader.Open(string, Lsn, WalRecoveryMode)"/> for a snapshot of a log being written. To tell, the lock file
/// is opened for reading for an instant (a shared lock on Unix): a writer opening the log in that instant is refused as by
/// any holder of the lock.
/// </remarks>
public static class WalInspection
{
    /// <summary>
    /// Inspects the log in <paramref name="directory"/> as recovery at open in <paramref name="mode"/> would, for a writer
    /// whose segment size is the one the log's newest segment was prepared with (its header; the default of
    /// <see cref="WalOptions.SegmentSizeBytes"/> when no segment has an intact header) and whose recycling limit is the
    /// default: these decide only which prepared and recycled files recovery keeps. Changes nothing on disk: no write,
    /// rename or deletion, no lock file.
    /// </summary>
    /// <param name="directory">The log directory.</param>
    /// <param name="mode">The recovery mode to judge the log by.</param>
    /// <param name="bytesRead">Told the bytes read so far, as the files are read (from the calling thread).</param>
    /// <param name="cancellationToken">Stops the inspection between two reads.</param>
    /// <returns>The log's shape and the verdict of recovery at open in <paramref name="mode"/>.</returns>
    /// <exception cref="ArgumentException"><paramref name="directory"/> is empty.</exception>
    /// <exception cref="DirectoryNotFoundException">The directory does not exist.</exception>
    /// <exception cref="WalException">A writer holds the directory open, or its segments are of another format version.</exception>
    /// <exception cref="IOException">A file cannot be read.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static WalInspectionReport Inspect(
        string directory, WalRecoveryMode mode = WalRecoveryMode.TruncateTornTail, IProgress<long>? bytesRead = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        return Inspect(OptionsFor(directory, mode), bytesRead, cancellationToken);
    }

    /// <summary>
    /// Inspects the log in <see cref="WalOptions.Directory"/> as <see cref="WriteAheadLog.Open(WalOptions)"/> with
    /// <paramref name="options"/> would recover it (<see cref="WalOptions.RecoveryMode"/>; <see cref="WalOptions.SegmentSizeBytes"/>
    /// and <see cref="WalOptions.MaxRecycledSegments"/> decide which prepared and recycled files it keeps). Changes nothing
    /// on disk: no write, rename or deletion, no lock file, no directory.
    /// </summary>
    /// <param name="options">The options the log would be opened with.</param>
    /// <param name="bytesRead">Told the bytes read so far, as the files are read (from the calling thread); null: not told.</param>
    /// <param name="cancellationToken">Stops the inspection between two reads.</param>
    /// <returns>The log's shape and the verdict of recovery at open.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentException">The options are invalid (as <see cref="WriteAheadLog.Open(WalOptions)"/> says).</exception>
    /// <exception cref="DirectoryNotFoundException">The directory does not exist.</exception>
    /// <exception cref="WalException">A writer holds the directory open, or its segments are of another format version.</exception>
    /// <exception cref="IOException">A file cannot be read.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static WalInspectionReport Inspect(WalOptions options, IProgress<long>? bytesRead, CancellationToken cancellationToken) =>
        DryRun(options, bytesRead, cancellationToken, lockHeld: false).Report;

    /// <summary>
    /// Repairs the log in <paramref name="directory"/> as recovery at open in <paramref name="mode"/> would, for a writer
    /// whose segment size is the one the log's newest segment was prepared with (its header; the default of
    /// <see cref="WalOptions.SegmentSizeBytes"/> when no segment has an intact header) and whose recycling limit is the
    /// default: see <see cref="Repair(WalOptions, string)"/>.
    /// </summary>
    /// <param name="directory">The log directory.</param>
    /// <param name="mode">The recovery mode.</param>
    /// <param name="backupDirectory">Where the bytes recovery cuts or deletes are saved first: outside the log directory, new or empty.</param>
    /// <returns>What was saved and cut.</returns>
    /// <exception cref="ArgumentException">A directory is empty, or the backup directory lies in the log directory or holds files.</exception>
    /// <exception cref="DirectoryNotFoundException">The log directory does not exist.</exception>
    /// <exception cref="WalCorruptionException"><paramref name="mode"/> refuses the damage (nothing was saved or changed).</exception>
    /// <exception cref="WalException">A writer holds the log, there is no log, or the repair's recovery failed (the bytes were saved first).</exception>
    /// <exception cref="IOException">A file cannot be read, or a side file written.</exception>
    public static WalRepairReport Repair(string directory, WalRecoveryMode mode, string backupDirectory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        return Repair(OptionsFor(directory, mode), backupDirectory);
    }

    /// <summary>
    /// Does exactly what recovery at open with <paramref name="options"/> does to the log (cut the first damage, complete a
    /// pending <see cref="WriteAheadLog.TruncateAfter"/>, delete what follows a cut and leftovers, rewrite what it rewrites),
    /// after saving every byte it will change or delete into side files in <paramref name="backupDirectory"/>, each fsynced:
    /// of a rewritten segment, its bytes from the first that changes (for the segment where the kept log ends, from the
    /// kept end) to the last that changes (the bytes after it stay on disk as they are), as
    /// <c>{segment file}.from-{offset}</c>; every file it deletes, whole, under its own name; and
    /// <c>wal.head</c>, both copies, as <c>wal.head</c>. Then it runs the real recovery, holding the writer's lock, and
    /// checks that it did what the dry run said. A log that needs nothing is left as it is, and nothing is saved.
    /// </summary>
    /// <param name="options">The options the log is opened with (recovery mode, segment size, recycling limit).</param>
    /// <param name="backupDirectory">Where the bytes are saved: outside the log directory (the log refuses foreign
    /// files), new or empty; created only when something is saved, as the log directory is (the side files hold its
    /// records): with <see cref="WalOptions.UnixCreateMode"/> and search permission, its files with that mode.</param>
    /// <returns>What was saved, and the range of LSNs dropped.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentException">The options are invalid, or the backup directory is empty, lies in the log directory, or holds files.</exception>
    /// <exception cref="DirectoryNotFoundException">The log directory does not exist.</exception>
    /// <exception cref="WalCorruptionException">
    /// The mode refuses the damage: the exception <see cref="WriteAheadLog.Open(WalOptions)"/> throws, and nothing was saved or changed
    /// (not even a pending <see cref="WriteAheadLog.TruncateAfter"/> completed, which <see cref="WriteAheadLog.Open(WalOptions)"/> does
    /// before it throws).
    /// </exception>
    /// <exception cref="WalException">A writer holds the log; there is no log; or the repair's recovery did not do what
    /// its dry run said (the bytes it could change were saved first).</exception>
    /// <exception cref="IOException">A file cannot be read, or a side file cannot be written (nothing was changed then).</exception>
    public static WalRepairReport Repair(WalOptions options, string backupDirectory)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(backupDirectory);
        options.Validate();
        string directory = Path.GetFullPath(options.Directory);
        string backup = Path.GetFullPath(backupDirectory);
        string relative = Path.GetRelativePath(directory, backup);
        bool outside = Path.IsPathRooted(relative) || relative == ".." || relative.StartsWith(".." + Path.DirectorySeparatorChar, StringComparison.Ordinal);
        if (!outside)
        {
            throw new ArgumentException($"The backup directory '{backup}' lies in the log directory '{directory}': give one outside it (the log refuses foreign files).", nameof(backupDirectory));
        }

        if (Directory.Exists(backup) && Directory.EnumerateFileSystemEntries(backup).Any())
        {
            throw new ArgumentException($"The backup directory '{backup}' already holds files: give a new or empty one, so that no side file is mixed with another repair's.", nameof(backupDirectory));
        }

        // A first look without the lock: a log that needs nothing, or that the mode refuses, is left exactly as it is (no
        // lock file is created either).
        DryRunResult plan = DryRun(options, bytesRead: null, CancellationToken.None, lockHeld: false);
        if (plan.Report.Action == WalRecoveryAction.Refuse)
        {
            throw plan.Report.Refusal!;
        }

        if (plan.Report.Verdict == WalVerdict.NoLog)
        {
            throw new WalException($"There is no log in '{directory}' to repair: it holds no {LogHeadFile.FileName} and no segment file.");
        }

        if (plan.Fates.Count == 0)
        {
            return new WalRepairReport { Inspection = plan.Report, Changed = false, BackupDirectory = backup };
        }

        WalStorage storage = WalStorage.Files.WithCreateMode(options.UnixCreateMode);
        using DirectoryLock held = DirectoryLock.Acquire(directory, options.UnixCreateMode);

        // Again, under the lock: what recovery will do now that no writer can come in between.
        plan = DryRun(options, bytesRead: null, CancellationToken.None, lockHeld: true);
        if (plan.Report.Action == WalRecoveryAction.Refuse)
        {
            throw plan.Report.Refusal!;
        }

        if (plan.Fates.Count == 0)
        {
            return new WalRepairReport { Inspection = plan.Report, Changed = false, BackupDirectory = backup };
        }

        List<WalSavedFile> saved = Save(directory, backup, plan, options.UnixCreateMode);
        RecoveredLog done;
        try
        {
            done = LogRecovery.Recover(storage, directory, options.RecoveryMode, options.SegmentSizeBytes, options.MaxRecycledSegments);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or WalException)
        {
            throw new WalException($"The repair's recovery of '{directory}' failed: {e.Message}. The bytes it could change were saved in '{backup}' first.", e);
        }

        CheckAsPlanned(directory, backup, plan, done);
        return new WalRepairReport
        {
            Inspection = plan.Report,
            Changed = true,
            BackupDirectory = backup,
            Saved = saved,
            BytesSaved = saved.Sum(s => s.Bytes),
            DroppedFrom = new Lsn(done.DroppedFrom),
            DroppedTo = new Lsn(done.DroppedTo),
        };
    }

    /// <summary>
    /// The options of a writer of the log in <paramref name="directory"/>: its segment size is the one the newest segment
    /// with an intact header was prepared with (a writer prepares every segment at its own size), else the default.
    /// </summary>
    private static WalOptions OptionsFor(string directory, WalRecoveryMode mode)
    {
        var options = new WalOptions { Directory = directory, RecoveryMode = mode };
        if (!Directory.Exists(directory))
        {
            return options;
        }

        foreach (ulong number in Enumerable.Reverse(SegmentNames.List(WalStorage.Files, Path.GetFullPath(directory))))
        {
            if (SegmentHeader.ReadCurrent(WalStorage.Files, SegmentNames.PathOf(Path.GetFullPath(directory), number)) is { } header)
            {
                // Recovery reads no other option; the largest entry is made small enough for any segment size a writer
                // may have (it bounds the segment size from below, nothing else here).
                var writer = new WalOptions { Directory = directory, RecoveryMode = mode, SegmentSizeBytes = (long)Math.Min(header.SegmentSize, long.MaxValue), MaxEntryBytes = 1 };
                try
                {
                    writer.Validate();
                    return writer;
                }
                catch (ArgumentException)
                {
                    return options; // a size no writer can have: the default
                }
            }
        }

        return options;
    }

    /// <summary>Runs recovery over a <see cref="DryRunStorage"/> and reports what it read and would do.</summary>
    internal static DryRunResult DryRun(WalOptions options, IProgress<long>? bytesRead, CancellationToken cancellationToken, bool lockHeld)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        string directory = Path.GetFullPath(options.Directory);
        if (!Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"The log directory '{directory}' does not exist.");
        }

        if (!lockHeld && DirectoryLock.IsHeld(directory))
        {
            throw new WalException(
                $"The log directory '{directory}' is open by a writer (its lock is held): inspect or repair it once the writer has closed it. " +
                "WalReader.Open reads a snapshot of a log being written.");
        }

        WalStorage disk = WalStorage.Files;
        string[] names = disk.ListFiles(directory, "*");
        bool headExists = names.Contains(LogHeadFile.FileName, StringComparer.Ordinal);
        var storage = new DryRunStorage(disk, bytesRead, cancellationToken);
        var trace = new RecoveryTrace();
        RecoveredLog? recovered = null;
        WalCorruptionException? refusal = null;
        try
        {
            recovered = LogRecovery.Recover(storage, directory, options.RecoveryMode, options.SegmentSizeBytes, options.MaxRecycledSegments, trace);
        }
        catch (WalCorruptionException e)
        {
            refusal = e;
        }

        List<FileFate> fates = storage.Changes();
        WalInspectionReport report = Report(directory, options.RecoveryMode, names, headExists, trace, recovered, refusal, fates, storage.BytesRead);
        return new DryRunResult(report, fates, recovered, storage);
    }

    private static WalInspectionReport Report(
        string directory, WalRecoveryMode mode, string[] names, bool headExists, RecoveryTrace trace, RecoveredLog? recovered, WalCorruptionException? refusal,
        List<FileFate> fates, long bytesRead)
    {
        LogHead? head = trace.Head;
        (WalVerdict verdict, WalRecoveryAction action, WalDamage? damage) = Judge(directory, mode, headExists, trace, recovered, refusal);
        ulong lastLsn = recovered?.LastLsn ?? (trace.LogRead ? trace.NextLsn - 1 : 0);
        (ulong endSegment, long endOffset) = recovered is not null ? (recovered.WriteSegment, recovered.WriteOffset)
            : trace is { LogRead: true, Damage: { IsOpeningWrite: false } d } ? (d.SegmentNumber, d.WriteStart)
            : trace is { LogRead: true, SegmentEnds: [.., var last] } ? (last.Number, last.EndOffset)
            : (0UL, 0L);
        bool noLog = verdict == WalVerdict.NoLog;
        ulong oldest = noLog ? 0 : head?.FirstLsn ?? 0;
        return new WalInspectionReport
        {
            Directory = directory,
            Mode = mode,
            Verdict = verdict,
            Action = action,
            Damage = damage,
            Refusal = refusal,
            FormatVersion = head is null || noLog ? 0 : (int)SegmentHeader.CurrentFormatVersion,
            LogId = noLog ? 0 : head?.LogId ?? 0,
            HeadCopyDamaged = trace.HeadCopyDamaged,
            RepairableDamage = RepairableDamage(directory, trace, refusal),
            PendingTruncation = head is { RewindPending: true } h
                ? new WalPendingTruncation { KeepsUpTo = new Lsn(h.RewindLsn), SegmentPath = SegmentNames.PathOf(directory, h.RewindSegment), Offset = h.RewindOffset }
                : null,
            Segments = Segments(directory, names, trace),
            OldestLsn = new Lsn(oldest),
            LastLsn = noLog ? Lsn.None : new Lsn(lastLsn),
            RecordCount = oldest != 0 && lastLsn >= oldest ? (long)(lastLsn - oldest + 1) : 0,
            EndSegment = endSegment,
            EndOffset = endOffset,
            RecoveryDroppedFrom = new Lsn(recovered?.DroppedFrom ?? 0),
            RecoveryDroppedTo = new Lsn(recovered?.DroppedTo ?? 0),
            Changes = fates.Select(f => new WalFileChange
            {
                Path = f.Path,
                Kind = f.Kind switch
                {
                    FileFateKind.Deleted => WalFileChangeKind.Deleted,
                    FileFateKind.Renamed => WalFileChangeKind.Renamed,
                    FileFateKind.Rewritten => WalFileChangeKind.Rewritten,
                    _ => WalFileChangeKind.Created,
                },
                Offset = f.Kind == FileFateKind.Rewritten ? f.Offset : 0,
                FileBytes = f.Length,
                NewPath = f.NewPath,
            }).ToList(),
            BytesRead = bytesRead,
        };

        static (WalVerdict, WalRecoveryAction, WalDamage?) Judge(
            string directory, WalRecoveryMode mode, bool headExists, RecoveryTrace trace, RecoveredLog? recovered, WalCorruptionException? refusal)
        {
            if (!trace.HeadResolved)
            {
                // wal.head refused: missing or unreadable beside segments, or a damaged copy in Strict (recovery throws before
                // it reads a segment; segments of another format version threw WalException).
                return (headExists ? WalVerdict.HeadDamaged : WalVerdict.HeadMissing, WalRecoveryAction.Refuse, null);
            }

            if (trace.Head is not { } head)
            {
                return (WalVerdict.NoLog, WalRecoveryAction.Create, null);
            }

            if (!trace.LogRead)
            {
                // Completing a pending TruncateAfter found a kept frame damaged, and Strict refuses what the other modes
                // drop as a damaged last write.
                return (WalVerdict.TornTail, WalRecoveryAction.Refuse, new WalDamage
                {
                    Kind = WalDamageKind.TornTail,
                    Action = WalRecoveryAction.Refuse,
                    SegmentPath = refusal!.SegmentPath,
                    SegmentNumber = head.RewindSegment,
                    Offset = refusal.Offset,
                    WriteOffset = head.RewindOffset,
                    Reason = refusal.Message,
                    DroppedFrom = new Lsn(head.RewindBatchLsn),
                    DroppedTo = new Lsn(head.RewindLsn),
                });
            }

            if (trace.Damage is { } d)
            {
                WalRecoveryAction action = RecoveryPolicy.Decide(d.Kind, mode) == RecoveryAction.Cut ? WalRecoveryAction.Cut : WalRecoveryAction.Refuse;
                WalDamageKind kind = d.IsTornTail ? WalDamageKind.TornTail : WalDamageKind.Corruption;
                return (d.IsTornTail ? WalVerdict.TornTail : WalVerdict.Corruption, action, new WalDamage
                {
                    Kind = kind,
                    Action = action,
                    SegmentPath = d.Path,
                    SegmentNumber = d.SegmentNumber,
                    Offset = d.Offset,
                    WriteOffset = d.WriteStart,
                    Reason = d.Reason,
                    DroppedFrom = new Lsn(recovered?.DroppedFrom ?? d.NextLsn),
                    DroppedTo = new Lsn(recovered?.DroppedTo ?? d.HighestLsnAfter),
                });
            }

            if (trace.Rewind.DroppedFrom != 0)
            {
                // Completing a pending TruncateAfter dropped its kept batch, damaged besides the crash: a cut as of a damaged
                // last write, reported as one.
                return (WalVerdict.TornTail, WalRecoveryAction.Cut, new WalDamage
                {
                    Kind = WalDamageKind.TornTail,
                    Action = WalRecoveryAction.Cut,
                    SegmentPath = SegmentNames.PathOf(directory, head.RewindSegment),
                    SegmentNumber = head.RewindSegment,
                    Offset = head.RewindOffset,
                    WriteOffset = head.RewindOffset,
                    Reason = $"a crash interrupted TruncateAfter({head.RewindLsn}), and a frame it keeps is damaged: its batch is dropped, as a damaged last write",
                    DroppedFrom = new Lsn(recovered!.DroppedFrom),
                    DroppedTo = new Lsn(recovered.DroppedTo),
                });
            }

            return (WalVerdict.Healthy, WalRecoveryAction.Keep, null);
        }
    }

    /// <summary>Every numbered file of the directory, as recovery read it.</summary>
    private static List<WalSegmentInfo> Segments(string directory, string[] names, RecoveryTrace trace)
    {
        Dictionary<ulong, SegmentEnd> ends = trace.SegmentEnds.ToDictionary(e => e.Number);
        var segments = new List<WalSegmentInfo>();
        foreach (string name in names.Order(StringComparer.Ordinal))
        {
            string path = Path.Combine(directory, name);
            ulong number;
            WalSegmentState state;
            if (SegmentNames.TryParse(name, SegmentNames.RecycledExtension, out number))
            {
                state = WalSegmentState.Recycled;
            }
            else if (SegmentNames.TryParse(name, SegmentNames.PreparingExtension, out number))
            {
                state = WalSegmentState.Preparing;
            }
            else if (SegmentNames.TryParse(name, out number))
            {
                state = !trace.LogRead || trace.Head is not { } head ? WalSegmentState.NotRead
                    : number < head.Segment ? WalSegmentState.BelowHead
                    : ends.ContainsKey(number) ? WalSegmentState.Used
                    : trace.Damage?.SegmentNumber == number ? WalSegmentState.Damaged
                    : IsPrepared(path) ? WalSegmentState.Prepared
                    : WalSegmentState.BeyondEnd;
            }
            else
            {
                continue;
            }

            long fileBytes;
            try
            {
                fileBytes = new FileInfo(path).Length;
            }
            catch (FileNotFoundException)
            {
                continue;
            }

            SegmentHeader? header = state is WalSegmentState.Recycled or WalSegmentState.Preparing ? null : SegmentHeader.ReadCurrent(WalStorage.Files, path);
            (long used, long records) = state switch
            {
                WalSegmentState.Used => (ends[number].EndOffset, (long)(ends[number].NextLsn - ends[number].Header.FirstLsn)),
                WalSegmentState.Damaged when trace.Damage is { IsOpeningWrite: false } d => (d.WriteStart, (long)(d.NextLsn - trace.DamagedSegmentHeader.FirstLsn)),
                _ => (0L, 0L),
            };
            segments.Add(new WalSegmentInfo
            {
                Number = number,
                Path = path,
                State = state,
                FileBytes = fileBytes,
                HeaderBytes = header is { } h ? (long)h.SegmentSize : 0,
                FirstLsn = header is { } f ? new Lsn(f.FirstLsn) : Lsn.None,
                UsedBytes = used,
                Records = records,
            });
        }

        return segments;
    }

    /// <summary>A segment file prepared and never opened: its opening write's bytes are all zero (native-layout.md, section 4).</summary>
    private static bool IsPrepared(string path)
    {
        using WalFile file = WalStorage.Files.OpenRead(path);
        Span<byte> opening = stackalloc byte[SegmentHeader.OpeningWriteBytes];
        return file.Read(opening, 0) == opening.Length && !opening.ContainsAnyExcept((byte)0);
    }

    /// <summary>Damage recovery repairs without losing a record (only when it did not refuse the log: then its verdict says it).</summary>
    private static List<string> RepairableDamage(string directory, RecoveryTrace trace, WalCorruptionException? refusal)
    {
        var lines = new List<string>();
        if (refusal is null && trace.HeadCopyDamaged)
        {
            lines.Add($"one copy of {LogHeadFile.PathOf(directory)} is damaged: recovery at open uses the intact one and writes both again");
        }

        if (refusal is null)
        {
            lines.AddRange(trace.MarkerRepairs.Select(repair => string.Create(
                CultureInfo.InvariantCulture,
                $"the end marker at byte {repair.Offset} of {repair.Path} is damaged ({repair.Reason}); the next segment starts at the right LSN, so nothing is lost, and recovery at open writes it again")));
        }

        return lines;
    }

    /// <summary>
    /// Saves, before recovery runs, every byte the dry run says it changes or deletes, each side file fsynced, then the
    /// backup directory: a deleted file whole; a rewritten one from its first changed byte (for the segment where the
    /// kept log ends, from the kept end) to its last (the bytes after it stay as they are on disk); wal.head whole, always.
    /// </summary>
    private static List<WalSavedFile> Save(string directory, string backup, DryRunResult plan, UnixFileMode mode)
    {
        // The side files hold the log's records: no more readable than the log (its directory's and files' modes).
        LogDirectory.Create(backup, mode);
        string head = LogHeadFile.PathOf(directory);
        string end = plan.Report.EndSegment != 0 ? SegmentNames.PathOf(directory, plan.Report.EndSegment) : "";
        var saved = new List<WalSavedFile>();
        foreach (FileFate fate in plan.Fates)
        {
            switch (fate.Kind)
            {
                case FileFateKind.Deleted:
                    saved.Add(SaveRange(fate.Path, 0, long.MaxValue, Path.Combine(backup, Path.GetFileName(fate.Path)), WalFileChangeKind.Deleted, mode));
                    break;
                case FileFateKind.Rewritten when fate.Path != head:
                    long from = fate.Path == end ? Math.Min(fate.Offset, plan.Report.EndOffset) : fate.Offset;
                    string name = string.Create(CultureInfo.InvariantCulture, $"{Path.GetFileName(fate.Path)}.from-{from}");
                    saved.Add(SaveRange(fate.Path, from, Math.Max(fate.End, from), Path.Combine(backup, name), WalFileChangeKind.Rewritten, mode));
                    break;
            }
        }

        saved.Add(SaveRange(head, 0, long.MaxValue, Path.Combine(backup, LogHeadFile.FileName), WalFileChangeKind.Rewritten, mode));
        WalStorage.Files.SyncDirectory(backup);
        if (Path.GetDirectoryName(backup) is { } parent)
        {
            WalStorage.Files.SyncDirectory(parent); // the backup directory's own name
        }

        return saved;
    }

    /// <summary>Copies the bytes of <paramref name="source"/> in [<paramref name="offset"/>, <paramref name="end"/>) (at most to its end) into a new file of exactly <paramref name="mode"/>, fsynced.</summary>
    private static WalSavedFile SaveRange(string source, long offset, long end, string target, WalFileChangeKind change, UnixFileMode mode)
    {
        using var input = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
        using FileStream output = FileWalStorage.Open(target, FileMode.CreateNew, FileAccess.Write, FileShare.None, FileOptions.None, mode);
        byte[] chunk = new byte[1 << 20];
        for (long at = Math.Min(offset, input.Length), stop = Math.Min(end, input.Length); at < stop;)
        {
            int read = RandomAccess.Read(input.SafeFileHandle, chunk.AsSpan(0, (int)Math.Min(chunk.Length, stop - at)), at);
            if (read == 0)
            {
                break; // the file got shorter meanwhile
            }

            output.Write(chunk, 0, read);
            at += read;
        }

        output.Flush(flushToDisk: true);
        return new WalSavedFile { SourcePath = source, Offset = offset, Bytes = output.Length, BackupPath = target, Change = change };
    }

    /// <summary>
    /// The real recovery did what the dry run said: the same end, the same report, the same files, and the same bytes
    /// wherever the dry run changed them.
    /// </summary>
    /// <exception cref="WalException">It did not (the bytes were saved before).</exception>
    private static void CheckAsPlanned(string directory, string backup, DryRunResult plan, RecoveredLog done)
    {
        RecoveredLog expected = plan.Recovered!;
        var problems = new List<string>();
        if ((done.LastLsn, done.WriteSegment, done.WriteOffset, done.DroppedFrom, done.DroppedTo) != (expected.LastLsn, expected.WriteSegment, expected.WriteOffset, expected.DroppedFrom, expected.DroppedTo))
        {
            problems.Add($"it kept the log to LSN {done.LastLsn} (segment {done.WriteSegment}, offset {done.WriteOffset}) and dropped [{done.DroppedFrom}, {done.DroppedTo}]; " +
                $"the dry run said LSN {expected.LastLsn} (segment {expected.WriteSegment}, offset {expected.WriteOffset}), [{expected.DroppedFrom}, {expected.DroppedTo}]");
        }

        string[] now = WalStorage.Files.ListFiles(directory, "*").Order(StringComparer.Ordinal).ToArray();
        string[] planned = plan.Storage.ListFiles(directory, "*").Order(StringComparer.Ordinal).ToArray();
        if (!now.SequenceEqual(planned))
        {
            problems.Add($"the directory holds {string.Join(", ", now)}; the dry run said {string.Join(", ", planned)}");
        }

        byte[] chunk = new byte[1 << 20];
        foreach (FileFate fate in plan.Fates.Where(f => f.Kind == FileFateKind.Rewritten))
        {
            string path = fate.NewPath ?? fate.Path;
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
            for (long offset = fate.Offset; offset < file.Length; offset += chunk.Length)
            {
                file.Position = offset;
                int count = file.Read(chunk);
                if (plan.Storage.ReadBack(path, offset, count) is not { } expectedBytes || !expectedBytes.AsSpan().SequenceEqual(chunk.AsSpan(0, count)))
                {
                    problems.Add($"'{path}' differs from the dry run's bytes in [{offset}, {offset + count})");
                    break;
                }
            }
        }

        if (problems.Count > 0)
        {
            throw new WalException($"The repair's recovery of '{directory}' did not do what its dry run said: {string.Join("; ", problems)}. The bytes it could change were saved in '{backup}' first.");
        }
    }
}

/// <summary>A dry run's outcome: the report, what it did to each file, recovery's result (null when it refused), and the storage holding its changes.</summary>
internal sealed record DryRunResult(WalInspectionReport Report, List<FileFate> Fates, RecoveredLog? Recovered, DryRunStorage Storage);
