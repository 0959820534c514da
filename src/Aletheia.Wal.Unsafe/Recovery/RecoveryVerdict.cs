namespace Aletheia.Wal.Recovery;

/// <summary>What recovery at open did with the log (the RecoveryFinished events say it by name).</summary>
internal enum RecoveryVerdict
{
    /// <summary>Nothing dropped: the log was whole, or its end was sealed as it stood.</summary>
    Clean,

    /// <summary>An interrupted last write was cut off.</summary>
    TornTail,

    /// <summary>Damage was cut off with everything after it (PointInTime).</summary>
    Corruption,

    /// <summary>Nothing new was dropped, but a cut an earlier, interrupted open recorded (or one completing a crashed TruncateAfter) is reported again.</summary>
    RecordedCut,
}
