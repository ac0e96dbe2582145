#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Build the retail API image and push it to Amazon ECR (or another registry) under an immutable tag.

.DESCRIPTION
    The PowerShell twin of ecr_push.sh, same steps and same refusals:
      1. aws ecr get-login-password | docker login   (account id from aws sts get-caller-identity -Region)
      2. docker build    3. docker tag    4. docker push
    The repository's tags are immutable, so an image is never pushed as 'latest': the default tag is the short git
    commit, and a tag that already exists in the repository is refused before anything is built or uploaded.
    Each parameter can also come from an environment variable (the parameter wins):
    ECR_REGION, ECR_REPOSITORY, IMAGE_TAG, IMAGE_PLATFORM, BUILD_CONTEXT, SOURCE_IMAGE, IMAGE_REGISTRY.
    The container CLI is $env:DOCKER (default: docker; podman works the same).

.PARAMETER Region
    AWS region of the registry (env ECR_REGION, default ap-southeast-1).
.PARAMETER Repository
    ECR repository name (env ECR_REPOSITORY, default mlops/retail-api).
.PARAMETER Tag
    Image tag (env IMAGE_TAG, default: short git commit; '-dirty' appended with -AllowDirty on a dirty tree).
.PARAMETER Platform
    docker build --platform (env IMAGE_PLATFORM, default linux/arm64).
.PARAMETER Context
    Build context holding the Dockerfile (env BUILD_CONTEXT, default: server/ of this repository).
.PARAMETER Image
    Push this local image instead of building one (e.g. what `make image` built and tested): it is tagged and pushed
    as it is (env SOURCE_IMAGE).
.PARAMETER Registry
    Push to this registry (host[:port]) instead of the account's ECR registry: no AWS calls and no login (run docker
    login first if it needs one); an existing tag is found with 'docker manifest inspect' (env IMAGE_REGISTRY).
.PARAMETER AllowDirty
    Push from a work tree with uncommitted changes.
.PARAMETER DryRun
    Print the commands instead of running them. Needs no docker; the AWS reads (account id, existing tag) run when
    aws and credentials are there, else the account id is printed as <account-id> and the tag is not checked.

.EXAMPLE
    ./scripts/ecr_push.ps1 -DryRun
.EXAMPLE
    ./scripts/ecr_push.ps1 -Region ap-southeast-1 -Repository mlops/retail-api -Tag 1.4.0
#>
[CmdletBinding()]
param(
    [string]$Region = $(if ($env:ECR_REGION) { $env:ECR_REGION } else { 'ap-southeast-1' }),
    [string]$Repository = $(if ($env:ECR_REPOSITORY) { $env:ECR_REPOSITORY } else { 'mlops/retail-api' }),
    [string]$Tag = $env:IMAGE_TAG,
    [string]$Platform = $(if ($env:IMAGE_PLATFORM) { $env:IMAGE_PLATFORM } else { 'linux/arm64' }),
    [string]$Context = $(if ($env:BUILD_CONTEXT) { $env:BUILD_CONTEXT } else { Join-Path (Join-Path $PSScriptRoot '..') 'server' }),
    [string]$Image = $env:SOURCE_IMAGE,
    [string]$Registry = $env:IMAGE_REGISTRY,
    [switch]$AllowDirty,
    [switch]$DryRun
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$PSNativeCommandUseErrorActionPreference = $false  # exit codes of aws/docker/git are checked explicitly

$accountPlaceholder = '<account-id>'
$docker = if ($env:DOCKER) { $env:DOCKER } else { 'docker' }

function Stop-WithError([string]$Message) {
    [Console]::Error.WriteLine("ecr_push.ps1: $Message")
    exit 1
}

function Write-Note([string]$Message) {
    [Console]::Error.WriteLine("ecr_push.ps1: $Message")
}

# Runs a native command with stderr merged into the output, as strings. Windows PowerShell 5.1 would turn stderr
# lines into terminating errors under ErrorActionPreference=Stop; the exit code is in $LASTEXITCODE afterwards.
function Invoke-Captured([scriptblock]$Block) {
    $previous = $ErrorActionPreference
    $ErrorActionPreference = 'Continue'
    try { return @(& $Block 2>&1 | ForEach-Object { "$_" }) }
    finally { $ErrorActionPreference = $previous }
}

function Invoke-Step([string[]]$Command) {
    $line = '+ ' + ($Command -join ' ')
    if ($DryRun) {
        Write-Output $line
        return
    }
    & $Command[0] $Command[1..($Command.Length - 1)]
    if ($LASTEXITCODE -ne 0) { Stop-WithError "failed ($LASTEXITCODE): $($Command -join ' ')" }
}

if ($Region -notmatch '^[a-z]{2}(-[a-z]+)+-[0-9]+$') { Stop-WithError "not an AWS region: '$Region'" }
if ($Repository -notmatch '^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$') {
    Stop-WithError "not an ECR repository name: '$Repository'"
}
if (-not (Test-Path (Join-Path $Context 'Dockerfile'))) { Stop-WithError "no Dockerfile in build context '$Context'" }
if ($Registry -and $Registry -notmatch '^[A-Za-z0-9.-]+(:[0-9]+)?$') { Stop-WithError "not a registry host[:port]: '$Registry'" }
# A dry run prints the docker commands, so it needs no docker; it uses aws when it can (see the account below).
# Another registry than ECR needs no aws at all.
$requiredTools = @('git')
if (-not $DryRun) {
    if (-not $Registry) { $requiredTools += @('aws') }
    $requiredTools += @($docker)
}
foreach ($tool in $requiredTools) {
    if (-not (Get-Command $tool -ErrorAction SilentlyContinue)) { Stop-WithError "'$tool' is not on PATH" }
}

# The work tree: an image tagged with a commit must be built from exactly that commit.
$commit = git -C $Context rev-parse --short HEAD
if ($LASTEXITCODE -ne 0) { Stop-WithError "build context '$Context' is not in a git work tree (the default tag is the commit)" }
$dirty = @(git -C $Context status --porcelain)
if ($LASTEXITCODE -ne 0) { Stop-WithError 'cannot read the git status' }
if ($dirty.Count -gt 0) {
    if (-not $AllowDirty) {
        [Console]::Error.WriteLine('ecr_push.ps1: refusing to push from a work tree with uncommitted changes (the tag would not name what is in the image); commit them, or pass -AllowDirty. First changes:')
        $dirty | Select-Object -First 5 | ForEach-Object { [Console]::Error.WriteLine($_) }
        exit 1
    }
    Write-Warning 'work tree has uncommitted changes (-AllowDirty)'
}
if (-not $Tag) {
    $Tag = if ($dirty.Count -gt 0) { "$commit-dirty" } else { $commit }
}
if ($Tag -notmatch '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$') { Stop-WithError "not a valid image tag: '$Tag'" }

# The account (in the registry's host name). A dry run without aws or credentials still prints every command.
$account = $accountPlaceholder
if ($Registry) {
    $account = ''  # not ECR: no account, no AWS call
}
elseif ($DryRun -and -not (Get-Command aws -ErrorAction SilentlyContinue)) {
    Write-Note "dry run: 'aws' is not on PATH, so the account id is shown as $accountPlaceholder and whether tag '$Tag' exists is not checked"
}
else {
    # A dry run needs no credentials: the AWS CLI's complaint about missing ones is left out (the note says it).
    $account = if ($DryRun) { aws sts get-caller-identity --region $Region --query Account --output text 2>$null }
               else { aws sts get-caller-identity --region $Region --query Account --output text }
    if ($LASTEXITCODE -ne 0) {
        if (-not $DryRun) { Stop-WithError 'cannot identify the AWS account (aws sts get-caller-identity failed): check your credentials' }
        $account = $accountPlaceholder
        Write-Note "dry run: cannot look up the account id (aws sts get-caller-identity failed), so it is shown as $accountPlaceholder and whether tag '$Tag' exists is not checked"
    }
    elseif ($account -notmatch '^[0-9]{12}$') { Stop-WithError "unexpected account id from aws sts get-caller-identity: '$account'" }
}
$registry = if ($Registry) { $Registry } else { "$account.dkr.ecr.$Region.amazonaws.com" }
$image = "$registry/${Repository}:$Tag"
$localImage = if ($Image) { $Image } else { "${Repository}:$Tag" }

# Immutable tags: check before building, so the answer is a clear sentence and not a failed push.
if ($Registry) {
    if ($DryRun -and -not (Get-Command $docker -ErrorAction SilentlyContinue)) {
        Write-Note "dry run: '$docker' is not on PATH, so whether tag '$Tag' exists in $registry is not checked"
    }
    else {
        $existing = (Invoke-Captured { & $docker manifest inspect $image }) -join "`n"
        if ($LASTEXITCODE -eq 0) {
            Stop-WithError "tag '$Tag' already exists in $registry/$Repository; tags are immutable, so commit and push the new commit, or choose another tag with -Tag"
        }
        elseif ($existing -notmatch 'manifest unknown|no such manifest|not found') {
            Stop-WithError "cannot check whether tag '$Tag' exists in ${registry}: $existing"
        }
    }
}
elseif ($account -ne $accountPlaceholder) {
    $existing = (Invoke-Captured {
            aws ecr describe-images --region $Region --repository-name $Repository --image-ids "imageTag=$Tag" `
                --query 'imageDetails[0].imageDigest' --output text
        }) -join "`n"
    if ($LASTEXITCODE -eq 0) {
        Stop-WithError "tag '$Tag' already exists in $Repository ($Region) as $existing; tags are immutable, so commit and push the new commit, or choose another tag with -Tag"
    }
    elseif ($existing -match 'RepositoryNotFoundException') {
        Stop-WithError "repository $Repository does not exist in account $account ($Region); create it first"
    }
    elseif ($existing -notmatch 'ImageNotFoundException') {
        if (-not $DryRun) { Stop-WithError "cannot check whether tag '$Tag' exists: $existing" }
        Write-Note "dry run: cannot check whether tag '$Tag' exists: $existing"
    }
}

$origin = if ($Image) { "commit $commit, local image $Image" } else { "commit $commit, platform $Platform" }
if ($DryRun) {
    Write-Note "dry run: would push $image ($origin); the commands:"
}
else {
    [Console]::Error.WriteLine("Pushing $image ($origin)")
}

# 1. Log in to ECR (another registry: log in beforehand): the password goes through a pipe, never onto a command
#    line or into the output.
if ($Registry) {
    # not ECR
}
elseif ($DryRun) {
    Write-Output "+ aws ecr get-login-password --region $Region | $docker login --username AWS --password-stdin $registry"
}
else {
    aws ecr get-login-password --region $Region | & $docker login --username AWS --password-stdin $registry | Out-Null
    if ($LASTEXITCODE -ne 0) { Stop-WithError "$docker login to $registry failed" }
}

# 2. Build, labelled with where it came from (unless an image built before is pushed).
if (-not $Image) {
    Invoke-Step @($docker, 'build', '--platform', $Platform,
        '--label', "org.opencontainers.image.revision=$commit",
        '--label', "org.opencontainers.image.version=$Tag",
        '--tag', $localImage, $Context)
}

# 3. Tag for the registry.
Invoke-Step @($docker, 'tag', $localImage, $image)

# 4. Push; a tag that appeared since the check (another pusher) is reported as such, not as a raw error.
if ($DryRun) {
    Write-Output "+ $docker push $image"
    exit 0
}
$pushOutput = Invoke-Captured { & $docker push $image }
$pushStatus = $LASTEXITCODE
$pushOutput | Out-Host
if ($pushStatus -ne 0) {
    if (($pushOutput -join "`n") -match 'already exists|cannot be overwritten|ImageTagAlreadyExists') {
        Stop-WithError "tag '$Tag' already exists in $Repository (pushed by someone else meanwhile); tags are immutable, choose another tag with -Tag"
    }
    Stop-WithError "$docker push of $image failed (output above)"
}
[Console]::Error.WriteLine("Pushed $image")
